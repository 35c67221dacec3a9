import { describe, expect, it } from 'vitest';
import { MAX_SECRET_BYTES, registryAuth, type CriAuthConfig } from '../../../../core/cri-proxy/auth-config.js';

const empty: CriAuthConfig = { username: '', password: '', auth: '', serverAddress: '', identityToken: '', registryToken: '' };
const cfg = (c: Partial<CriAuthConfig>): CriAuthConfig => ({ ...empty, ...c });

describe('registryAuth', () => {
  it('reads username and password', () => {
    expect(registryAuth(cfg({ username: 'u', password: 'p' }), 'r.io').auth).toEqual({ kind: 'password', username: 'u', password: 'p' });
  });

  it('decodes auth (base64 user:password, NUL padding trimmed like containerd)', () => {
    const auth = Buffer.from('u:p:with:colons\0').toString('base64');
    expect(registryAuth(cfg({ auth }), 'r.io').auth).toEqual({ kind: 'password', username: 'u', password: 'p:with:colons' });
  });

  it('prefers an identity token, with its user name', () => {
    expect(registryAuth(cfg({ username: 'u', identityToken: 'refresh' }), 'r.io').auth).toEqual({ kind: 'identityToken', identityToken: 'refresh', username: 'u' });
  });

  it('keeps a bare registry token', () => {
    expect(registryAuth(cfg({ registryToken: 'abc.def' }), 'r.io').auth).toEqual({ kind: 'registryToken', registryToken: 'abc.def' });
  });

  it('refuses a registry token that cannot be a header value', () => {
    const r = registryAuth(cfg({ registryToken: 'a\r\nX-Evil: 1' }), 'r.io');
    expect(r.auth).toBeUndefined();
    expect(r).not.toHaveProperty('reason', expect.stringContaining('Evil'));
  });

  it('ignores credentials for another registry (server_address), as containerd does', () => {
    expect(registryAuth(cfg({ username: 'u', password: 'p', serverAddress: 'https://other.io/v1/' }), 'r.io').auth).toBeUndefined();
    expect(registryAuth(cfg({ username: 'u', password: 'p', serverAddress: 'https://r.io' }), 'r.io').auth).toBeDefined();
    expect(registryAuth(cfg({ username: 'u', password: 'p', serverAddress: 'https://index.docker.io/v1/' }), 'docker.io').auth).toBeDefined();
  });

  it('is anonymous without credentials', () => {
    expect(registryAuth(empty, 'r.io').auth).toBeUndefined();
  });

  it('refuses oversized or malformed fields, with a reason that holds no secret', () => {
    const big = 'S'.repeat(MAX_SECRET_BYTES + 1);
    for (const c of [cfg({ username: 'u', password: big }), cfg({ identityToken: big }), cfg({ auth: 'not base64!' }), cfg({ auth: Buffer.from('nocolon').toString('base64') })]) {
      const r = registryAuth(c, 'r.io');
      expect(r.auth).toBeUndefined();
      if (r.auth === undefined) {
        expect(r.reason).not.toContain('SSSS');
        expect(r.reason).not.toContain('nocolon');
      }
    }
  });
});
