import { describe, expect, it } from 'vitest';
import { parseWwwAuthenticate } from '../../../../../backends/stargz-lazy/registry/www-authenticate.js';

describe('parseWwwAuthenticate', () => {
  it('parses a Docker Hub style Bearer challenge', () => {
    expect(
      parseWwwAuthenticate('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/nginx:pull"'),
    ).toEqual([
      {
        scheme: 'bearer',
        params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/nginx:pull' },
      },
    ]);
  });

  it('parses several challenges, token values, escapes and odd spacing', () => {
    expect(parseWwwAuthenticate(['Basic realm="a \\"b\\"", charset=UTF-8', ' Bearer  realm = "r" , error=invalid_token ,'])).toEqual([
      { scheme: 'basic', params: { realm: 'a "b"', charset: 'UTF-8' } },
      { scheme: 'bearer', params: { realm: 'r', error: 'invalid_token' } },
    ]);
  });

  it('skips token68 and keeps the next challenge', () => {
    expect(parseWwwAuthenticate('Negotiate abc123==, Basic realm="x"')).toEqual([
      { scheme: 'negotiate', params: {} },
      { scheme: 'basic', params: { realm: 'x' } },
    ]);
  });

  it('never throws on garbage', () => {
    for (const h of ['', '"', '=', 'Bearer realm="unterminated', 'Bearer ,,,', '\u0000\u0001', 'Bearer realm=']) {
      expect(() => parseWwwAuthenticate(h)).not.toThrow();
    }
    expect(parseWwwAuthenticate(undefined)).toEqual([]);
    expect(parseWwwAuthenticate('Bearer realm="unterminated')).toEqual([{ scheme: 'bearer', params: {} }]);
  });
});
