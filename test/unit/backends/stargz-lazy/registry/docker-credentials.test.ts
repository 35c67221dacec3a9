/**
 * Credentials from a docker config file on disk and from credential helpers: a fake
 * `docker-credential-*` script on PATH (a real process: stdin, stdout, exit status).
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DockerCredentials } from '../../../../../backends/stargz-lazy/registry/docker-credentials.js';
import { CredentialsError } from '../../../../../backends/stargz-lazy/registry/registry-errors.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const log = pino({ level: 'silent' });
let dir: string;
let bin: string;
let env: NodeJS.ProcessEnv;

/**
 * The fake helper: answers from the file named by FAKE_HELPER_ANSWERS (server → JSON) and
 * logs the server address it was asked for, or misbehaves on request.
 */
const HELPER = `#!/bin/sh
[ "$1" = get ] || { echo "unexpected argument $1" >&2; exit 3; }
read -r server
echo "$server" >>"$FAKE_HELPER_LOG"
case "$server" in
  hang.example) sleep 30 ;;
  broken.example) echo "keychain is locked" >&2; exit 1 ;;
  garbage.example) echo "not json"; exit 0 ;;
esac
answer=$(grep -F "$server	" "$FAKE_HELPER_ANSWERS" | cut -f2)
if [ -z "$answer" ]; then echo "credentials not found in native keychain"; exit 1; fi
echo "$answer"
`;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-docker-creds-'));
  bin = join(dir, 'bin');
  await writeFile(join(dir, 'answers'), '');
  await import('node:fs/promises').then((fs) => fs.mkdir(bin));
  await writeFile(join(bin, 'docker-credential-fake'), HELPER);
  await chmod(join(bin, 'docker-credential-fake'), 0o755);
  env = { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, FAKE_HELPER_ANSWERS: join(dir, 'answers'), FAKE_HELPER_LOG: join(dir, 'helper.log') };
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function config(name: string, json: unknown): Promise<string> {
  const file = join(dir, name);
  await writeFile(file, typeof json === 'string' ? json : JSON.stringify(json));
  return file;
}

const answers = (lines: Record<string, unknown>) =>
  writeFile(join(dir, 'answers'), Object.entries(lines).map(([s, a]) => `${s}\t${JSON.stringify(a)}\n`).join(''));

const creds = (file: string | undefined, extra: Partial<ConstructorParameters<typeof DockerCredentials>[0]> = {}) =>
  new DockerCredentials({ file, helperTimeoutMs: 2000, log, env, ...extra });

describe('the docker config file', () => {
  it('is anonymous when the default file does not exist', async () => {
    const c = creds(undefined, { env: { ...env, DOCKER_CONFIG: join(dir, 'nowhere') } });
    expect(c.file).toBe(join(dir, 'nowhere', 'config.json'));
    expect(await c.get('r.example')).toBeUndefined();
  });

  it('finds $DOCKER_CONFIG/config.json', async () => {
    const sub = join(dir, 'dc');
    await import('node:fs/promises').then((fs) => fs.mkdir(sub, { recursive: true }));
    await writeFile(join(sub, 'config.json'), JSON.stringify({ auths: { 'r.example': { auth: b64('dc:pw') } } }));
    expect(await creds(undefined, { env: { ...env, DOCKER_CONFIG: sub } }).get('r.example')).toEqual({ username: 'dc', password: 'pw' });
  });

  it('fails a lookup, naming the option, when a configured file does not exist', async () => {
    const err = await creds(join(dir, 'missing.json')).get('r.example').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CredentialsError);
    expect((err as Error).message).toBe(`registry.dockerConfig: ${join(dir, 'missing.json')} does not exist`);
  });

  it('fails a lookup with file and field when the file is malformed, and recovers once it is fixed', async () => {
    const file = await config('malformed.json', { auths: { 'r.example': { auth: 'bm9jb2xvbg==' } } });
    const c = creds(file);
    await expect(c.get('r.example')).rejects.toThrow(`${file}: auths["r.example"].auth: expected base64 of "username:password"`);
    await config('malformed.json', { auths: { 'r.example': { auth: b64('fixed:pw') } } });
    expect(await c.get('r.example')).toEqual({ username: 'fixed', password: 'pw' });
  });

  it('re-reads the file when it changes (rotated credentials, no restart)', async () => {
    const file = await config('rotating.json', { auths: { 'r.example': { auth: b64('alice:one') } } });
    const c = creds(file);
    expect(await c.get('r.example')).toEqual({ username: 'alice', password: 'one' });
    // Written elsewhere and renamed into place, as `docker login` does: a new inode.
    const next = await config('rotating.json.new', { auths: { 'r.example': { auth: b64('alice:two') } } });
    await import('node:fs/promises').then((fs) => fs.rename(next, file));
    expect(await c.get('r.example')).toEqual({ username: 'alice', password: 'two' });
    // Rewritten in place with a different length.
    await config('rotating.json', { auths: { 'r.example': { auth: b64('alice:three!') } } });
    expect(await c.get('r.example')).toEqual({ username: 'alice', password: 'three!' });
  });
});

describe('credential helpers', () => {
  it('asks the per-host helper with the server address and reads Username/Secret', async () => {
    await answers({ 'r.example:5000': { ServerURL: 'r.example:5000', Username: 'helper-user', Secret: 'helper-secret' } });
    const file = await config('helpers.json', { credHelpers: { 'r.example:5000': 'fake' } });
    expect(await creds(file).get('r.example:5000')).toEqual({ username: 'helper-user', password: 'helper-secret' });
    expect(await creds(file).get('other.example')).toBeUndefined();
  });

  it('passes https://index.docker.io/v1/ for docker.io and maps <token> to an identity token', async () => {
    await answers({ 'https://index.docker.io/v1/': { Username: '<token>', Secret: 'refresh-token' } });
    const file = await config('store.json', { credsStore: 'fake' });
    expect(await creds(file).get('docker.io')).toEqual({ identityToken: 'refresh-token' });
  });

  it('falls back to auths when the helper holds nothing', async () => {
    await answers({});
    const file = await config('fallback.json', { credsStore: 'fake', auths: { 'r.example': { auth: b64('stored:pw') } } });
    expect(await creds(file).get('r.example')).toEqual({ username: 'stored', password: 'pw' });
    expect(await creds(file).get('none.example')).toBeUndefined();
  });

  it('reports a failing, missing, hanging or confused helper for that host', async () => {
    const file = await config('bad-helpers.json', {
      credsStore: 'fake',
      credHelpers: { 'missing.example': 'not-installed' },
    });
    const c = creds(file, { helperTimeoutMs: 300 });
    const message = (host: string) =>
      c.get(host).then(
        () => 'resolved',
        (e: unknown) => (e instanceof CredentialsError ? e.message : `not a CredentialsError: ${String(e)}`),
      );
    expect(await message('broken.example')).toBe(
      `credential helper docker-credential-fake (credsStore in ${file}) for broken.example failed (exit status 1): keychain is locked`,
    );
    expect(await message('missing.example')).toBe(
      `credential helper docker-credential-not-installed (credHelpers in ${file}) for missing.example: docker-credential-not-installed is not on PATH`,
    );
    const started = Date.now();
    expect(await message('hang.example')).toBe(`credential helper docker-credential-fake (credsStore in ${file}) for hang.example did not answer within 300 ms`);
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await message('garbage.example')).toBe(`credential helper docker-credential-fake (credsStore in ${file}) for garbage.example: the output is not JSON`);
  });
});
