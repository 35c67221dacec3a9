import { describe, expect, it } from 'vitest';
import { parsePullSecretKey } from '../../../../../backends/stargz-lazy/pull-secrets/pull-secret-key.js';

describe('pull secret keys', () => {
  it.each([
    ['https://index.docker.io/v1/', { host: 'docker.io' }],
    ['docker.io', { host: 'docker.io' }],
    ['registry-1.docker.io', { host: 'docker.io' }],
    ['10.0.0.5:5000', { host: '10.0.0.5:5000' }],
    ['http://127.0.0.1:5000', { host: '127.0.0.1:5000' }],
    ['Registry.Example.com/team/', { host: 'registry.example.com', path: 'team' }],
    ['https://quay.io/v2/', { host: 'quay.io' }],
    ['[::1]:5000/a/b', { host: '[::1]:5000', path: 'a/b' }],
  ])('%s', (key, want) => {
    expect(parsePullSecretKey(key)).toEqual(want);
  });

  it.each(['*.example.com', 'not a host', 'ftp://x/y', 'x.example/UPPER', 'x.example/../etc', ''])('refuses %j', (key) => {
    expect(parsePullSecretKey(key)).toHaveProperty('error');
  });
});
