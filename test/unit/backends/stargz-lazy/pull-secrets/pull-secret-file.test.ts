import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MAX_PULL_SECRET_AUTHS, MAX_PULL_SECRET_BYTES, parsePullSecret } from '../../../../../backends/stargz-lazy/pull-secrets/pull-secret-file.js';
import { MAX_SECRET_CHARS } from '../../../../../backends/stargz-lazy/protocol/credentials-protocol.js';

const SECRET = 'hunter2-in-a-secret';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const file = '/var/run/secrets/pull/.dockerconfigjson';

describe('a dockerconfigjson pull secret', () => {
  it('reads every form of auth', () => {
    const text = JSON.stringify({
      auths: {
        'https://index.docker.io/v1/': { auth: b64(`alice:${SECRET}`), email: 'a@example.com' },
        'r.example/team': { username: 'bob', password: 'pw' },
        'id.example': { identitytoken: 'refresh', username: '<token>' },
        'tok.example': { registrytoken: 'bearer' },
      },
    });
    expect(parsePullSecret(text, file)).toEqual({
      entries: [
        { host: 'docker.io', auth: { kind: 'password', username: 'alice', password: SECRET } },
        { host: 'r.example', path: 'team', auth: { kind: 'password', username: 'bob', password: 'pw' } },
        { host: 'id.example', auth: { kind: 'identityToken', identityToken: 'refresh', username: '<token>' } },
        { host: 'tok.example', auth: { kind: 'registryToken', registryToken: 'bearer' } },
      ],
      skipped: [],
    });
  });

  it('skips (and names) broken keys, keeping the others', () => {
    const text = JSON.stringify({
      auths: {
        '*.example.com': { auth: b64('a:b') },
        'a.example': { auth: '!!!' },
        'b.example': { auth: b64(SECRET) },
        'c.example': { username: 'only' },
        'd.example': {},
        'e.example': { username: 'u', password: `${SECRET}\n` },
        'ok.example': { auth: b64('u:p') },
      },
    });
    const r = parsePullSecret(text, file);
    expect(r.entries.map((e) => e.host)).toEqual(['ok.example']);
    expect(r.skipped).toHaveLength(6);
    expect(r.skipped.join('\n')).not.toContain(SECRET);
    expect(r.skipped[0]).toBe('auths["*.example.com"]: wildcard registry keys are not supported');
  });

  it.each([
    ['not JSON', `{"auths": {"x": {"password": ${SECRET}}}}`, /is not JSON$/],
    ['no auths (a .dockercfg)', JSON.stringify({ 'r.example': { auth: b64('a:b') } }), /auths: /],
    ['too many registries', JSON.stringify({ auths: Object.fromEntries(Array.from({ length: MAX_PULL_SECRET_AUTHS + 1 }, (_, i) => [`h${i}.example`, { auth: b64('a:b') }])) }), /at most 128 registries/],
    ['an oversized token', JSON.stringify({ auths: { 'x.example': { registrytoken: 'x'.repeat(MAX_SECRET_CHARS + 1) } } }), /registrytoken/],
    ['an oversized file', JSON.stringify({ auths: {}, pad: 'x'.repeat(MAX_PULL_SECRET_BYTES) }), /larger than/],
  ])('refuses %s, naming the file and never a value', (_what, text, message) => {
    let err: Error | undefined;
    try {
      parsePullSecret(text, file);
    } catch (e) {
      err = e as Error;
    }
    expect(err?.message).toMatch(message);
    expect(err?.message).toContain(file);
    expect(err?.message).not.toContain(SECRET);
  });

  it('never throws anything but its own error, and never echoes a value (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue({ maxDepth: 4 }), fc.string({ maxLength: 50 }), (value, junk) => {
        for (const text of [JSON.stringify({ auths: value }), JSON.stringify(value), junk]) {
          try {
            const r = parsePullSecret(text, file);
            expect(r.entries.length).toBeLessThanOrEqual(MAX_PULL_SECRET_AUTHS);
          } catch (err) {
            expect((err as Error).name).toBe('PullSecretError');
          }
        }
      }),
      { numRuns: 200 },
    );
  });
});
