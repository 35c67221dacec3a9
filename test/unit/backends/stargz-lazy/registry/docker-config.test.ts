/** Parsing docker's config.json and matching registry hosts to its keys the way docker does. */
import { describe, expect, it } from 'vitest';
import { FailedPreconditionError } from '../../../../../core/sdk.js';
import {
  DOCKER_HUB_SERVER,
  defaultDockerConfigPath,
  lookupHost,
  parseDockerConfig,
  serverAddress,
} from '../../../../../backends/stargz-lazy/registry/docker-config.js';
import { CredentialsError } from '../../../../../backends/stargz-lazy/registry/registry-errors.js';

const FILE = '/etc/test/config.json';
const b64 = (s: string) => Buffer.from(s).toString('base64');
const parse = (json: unknown) => parseDockerConfig(JSON.stringify(json), FILE);

function failure(fn: () => unknown): CredentialsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(CredentialsError);
    expect(err).toBeInstanceOf(FailedPreconditionError);
    return err as CredentialsError;
  }
  throw new Error('expected a CredentialsError');
}

describe('parseDockerConfig', () => {
  it('reads every kind of auths entry and ignores docker-only fields', () => {
    const c = parse({
      auths: {
        'a.example': { auth: b64('alice:pa:ss word') },
        'b.example': { username: 'bob', password: 'pw' },
        'c.example': { identitytoken: 'refresh-me', username: 'carol' },
        'd.example': { registrytoken: 'bearer-me' },
        'e.example': {},
        'f.example': { auth: '', email: 'x@example' },
      },
      psFormat: 'table',
      proxies: { default: { httpProxy: 'http://p' } },
    });
    expect(Object.fromEntries(c.auths)).toEqual({
      'a.example': { username: 'alice', password: 'pa:ss word' },
      'b.example': { username: 'bob', password: 'pw' },
      'c.example': { identityToken: 'refresh-me', username: 'carol' },
      'd.example': { registryToken: 'bearer-me' },
    });
    expect(c.credsStore).toBeUndefined();
  });

  it('names the file and the field of a malformed entry', () => {
    expect(failure(() => parse({ auths: { 'r.example:5000': { auth: 'not base64!' } } })).message).toBe(
      `${FILE}: auths["r.example:5000"].auth: not base64`,
    );
    expect(failure(() => parse({ auths: { 'r.example': { auth: b64('no-colon') } } })).message).toBe(
      `${FILE}: auths["r.example"].auth: expected base64 of "username:password"`,
    );
    expect(failure(() => parse({ auths: { 'r.example': { username: 'u' } } })).message).toBe(
      `${FILE}: auths["r.example"]: username and password go together`,
    );
    expect(failure(() => parse({ auths: { 'r.example': { auth: 42 } } })).message).toMatch(
      new RegExp(`^docker config ${FILE}: auths\\["r\\.example"\\]\\.auth: Invalid input: expected string, received number$`),
    );
    expect(failure(() => parse({ credHelpers: { 'gcr.io': '../../bin/sh' } })).message).toContain('credHelpers["gcr.io"]: expected a helper name');
    expect(failure(() => parse({ auths: [] })).message).toContain(`docker config ${FILE}: auths: Invalid input: expected record, received array`);
    expect(failure(() => parseDockerConfig('{"auths": {"h": {"password": hunter2}}}', FILE)).message).toBe(`docker config ${FILE} is not JSON`);
  });

  it('treats an empty credsStore as none', () => {
    expect(parse({ credsStore: '' }).credsStore).toBeUndefined();
    expect(parse({ credsStore: 'pass' }).credsStore).toBe('pass');
  });
});

describe('host matching (docker GetAuthConfig)', () => {
  const alice = { username: 'alice', password: 'a' };
  it('finds Docker Hub under https://index.docker.io/v1/ and its other names', () => {
    expect(serverAddress('docker.io')).toBe(DOCKER_HUB_SERVER);
    for (const key of [DOCKER_HUB_SERVER, 'index.docker.io', 'https://registry-1.docker.io', 'docker.io']) {
      const c = parse({ auths: { [key]: { auth: b64('alice:a') } } });
      expect(lookupHost(c, 'docker.io').stored, key).toEqual(alice);
    }
  });

  it('matches host:port with or without scheme and path, and nothing else', () => {
    for (const key of ['r.example:5000', 'https://r.example:5000', 'http://r.example:5000/v2/', 'R.Example:5000']) {
      const c = parse({ auths: { [key]: { auth: b64('alice:a') } } });
      expect(lookupHost(c, 'r.example:5000').stored, key).toEqual(alice);
    }
    const c = parse({ auths: { 'r.example:5000': { auth: b64('alice:a') } } });
    expect(lookupHost(c, 'r.example')).toEqual({});
    expect(lookupHost(c, 'r.example:5001')).toEqual({});
    expect(lookupHost(c, 'docker.io')).toEqual({});
  });

  it('prefers the exact key over another spelling of the same host', () => {
    const c = parse({ auths: { 'https://r.example': { auth: b64('old:o') }, 'r.example': { auth: b64('alice:a') } } });
    expect(lookupHost(c, 'r.example').stored).toEqual(alice);
  });

  it('picks the per-host helper, else credsStore, and keeps stored credentials as fallback', () => {
    const c = parse({
      credsStore: 'desktop',
      credHelpers: { 'gcr.io': 'gcloud', [DOCKER_HUB_SERVER]: 'hub' },
      auths: { 'gcr.io': { auth: b64('alice:a') } },
    });
    expect(lookupHost(c, 'gcr.io')).toEqual({ helper: { name: 'gcloud', source: 'credHelpers' }, stored: alice });
    expect(lookupHost(c, 'docker.io')).toEqual({ helper: { name: 'hub', source: 'credHelpers' } });
    expect(lookupHost(c, 'quay.io')).toEqual({ helper: { name: 'desktop', source: 'credsStore' } });
  });
});

describe('defaultDockerConfigPath', () => {
  it('uses DOCKER_CONFIG, else ~/.docker', () => {
    expect(defaultDockerConfigPath({ DOCKER_CONFIG: '/srv/dc' })).toBe('/srv/dc/config.json');
    expect(defaultDockerConfigPath({ DOCKER_CONFIG: '' })).toMatch(/\/\.docker\/config\.json$/);
    expect(defaultDockerConfigPath({})).toMatch(/\/\.docker\/config\.json$/);
  });
});
