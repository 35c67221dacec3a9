/**
 * readHostsDirs: containerd's lookup order (`host_port_`, `host:port`, `_default`; dirs in
 * order), Docker's certs.d files, a broken file skipped with a problem naming it (the next
 * candidate serves), files that would block or are too large, and the stat fingerprint.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { candidateNames, fingerprint, MAX_HOST_DIRS, readHostsDirs } from '../../../../../backends/stargz-lazy/registry/hosts-dirs.js';
import { makeTestPki, type TestPki } from './servers/test-pki.js';

let tmp: string;
let pki: TestPki;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'hosts-dirs-'));
  pki = await makeTestPki();
});
afterAll(() => rm(tmp, { recursive: true, force: true }));

async function hostsToml(dir: string, name: string, text: string): Promise<void> {
  await mkdir(join(dir, name), { recursive: true });
  await writeFile(join(dir, name, 'hosts.toml'), text);
}

describe('candidateNames', () => {
  it('follows containerd: escaped port, as written, _default', () => {
    expect(candidateNames('reg.example:5000')).toEqual(['reg.example_5000_', 'reg.example:5000', '_default']);
    expect(candidateNames('reg.example')).toEqual(['reg.example', '_default']);
    expect(candidateNames('[::1]:5000')).toEqual(['[::1]_5000_', '[::1]:5000', '_default']);
    expect(candidateNames('[::1]')).toEqual(['[::1]', '_default']);
  });
});

describe('readHostsDirs', () => {
  it('finds a host by its own directory, else _default; the first dir that has one wins', async () => {
    const a = join(tmp, 'order-a');
    const b = join(tmp, 'order-b');
    await hostsToml(a, 'reg.example_5000_', '[host."http://m-escaped:1"]');
    await hostsToml(a, 'reg.example:5000', '[host."http://m-colon:1"]');
    await hostsToml(a, 'other.example:5000', '[host."http://m-colon-only:1"]');
    await hostsToml(b, 'third.example', '[host."http://m-b:1"]');
    await hostsToml(b, '_default', '[host."http://m-default:1"]');
    const t = readHostsDirs([a, b, join(tmp, 'missing')]);
    expect(t.problems).toEqual([]);
    expect(t.lookup('reg.example:5000')?.mirrors[0]?.host).toBe('m-escaped:1');
    expect(t.lookup('other.example:5000')?.mirrors[0]?.host).toBe('m-colon-only:1');
    expect(t.lookup('third.example')?.mirrors[0]?.host).toBe('m-b:1');
    expect(t.lookup('anything.example')?.mirrors[0]?.host).toBe('m-default:1');
    expect(t.lookup('third.example')?.source).toBe(join(b, 'third.example'));
  });

  it('skips a broken hosts.toml with a problem naming the file and key; the next candidate serves the host', async () => {
    const d = join(tmp, 'broken');
    await hostsToml(d, 'reg.example', '[host."https://m"]\n  capabilities = ["teleport"]');
    await hostsToml(d, '_default', '[host."http://fallback:1"]');
    await hostsToml(d, 'bad-ca.example', '[host."https://m"]\n  ca = "missing.pem"');
    const t = readHostsDirs([d]);
    expect(t.problems).toHaveLength(2);
    expect(t.problems.find((p) => p.includes('reg.example'))).toMatch(/reg\.example\/hosts\.toml: host\."https:\/\/m"\.capabilities\[0\]: unknown capability "teleport" .*; .*reg\.example is ignored/);
    expect(t.problems.find((p) => p.includes('bad-ca'))).toMatch(/bad-ca\.example\/hosts\.toml: host\[0\]\.ca\[0\]: cannot read .*missing\.pem: ENOENT/);
    expect(t.lookup('reg.example')?.mirrors[0]?.host).toBe('fallback:1');
    expect(t.lookup('bad-ca.example')?.mirrors[0]?.host).toBe('fallback:1');
  });

  it('reads CA, client pair and skip_verify into TLS material', async () => {
    const d = join(tmp, 'tls');
    await mkdir(join(d, 'reg.example'), { recursive: true });
    await writeFile(join(d, 'reg.example', 'ca.pem'), await pki.read(pki.caFile));
    await writeFile(join(d, 'reg.example', 'c.cert'), await pki.read(pki.clientCertFile));
    await writeFile(join(d, 'reg.example', 'c.key'), await pki.read(pki.clientKeyFile));
    await writeFile(
      join(d, 'reg.example', 'hosts.toml'),
      'server = "https://up.example"\nca = "ca.pem"\n[host."https://m.example"]\n  client = [["c.cert", "c.key"]]\n  skip_verify = true\n',
    );
    const t = readHostsDirs([d]);
    expect(t.problems).toEqual([]);
    const e = t.lookup('reg.example')!;
    expect(e.upstream.tls?.ca?.some((pem) => pem.includes('BEGIN CERTIFICATE'))).toBe(true);
    expect(e.mirrors[0]!.tls).toMatchObject({ rejectUnauthorized: false });
    expect(e.mirrors[0]!.tls?.cert).toContain('BEGIN CERTIFICATE');
  });

  it("reads Docker's certs.d layout when there is no hosts.toml", async () => {
    const d = join(tmp, 'docker');
    await mkdir(join(d, 'reg.example:5000'), { recursive: true });
    await writeFile(join(d, 'reg.example:5000', 'ca.crt'), await pki.read(pki.caFile));
    await writeFile(join(d, 'reg.example:5000', 'client.cert'), await pki.read(pki.clientCertFile));
    await writeFile(join(d, 'reg.example:5000', 'client.key'), await pki.read(pki.clientKeyFile));
    const e = readHostsDirs([d]).lookup('reg.example:5000')!;
    expect(e.mirrors).toEqual([]);
    expect(e.upstream.host).toBeUndefined();
    expect(e.upstream.tls?.cert).toContain('BEGIN CERTIFICATE');
  });

  it('does not block on a FIFO, refuses an oversized file, caps the number of host directories', async () => {
    const d = join(tmp, 'hostile');
    await mkdir(join(d, 'fifo.example'), { recursive: true });
    execFileSync('mkfifo', [join(d, 'fifo.example', 'hosts.toml')]);
    await hostsToml(d, 'big.example', `# ${'x'.repeat(70_000)}`);
    await mkdir(join(d, 'dir.example', 'hosts.toml'), { recursive: true });
    await symlink('/nonexistent', join(d, 'dangling'));
    const t = readHostsDirs([d]);
    expect(t.problems.join('\n')).toMatch(/fifo\.example\/hosts\.toml: not a regular file/);
    expect(t.problems.join('\n')).toMatch(/big\.example\/hosts\.toml: larger than 65536 bytes/);
    expect(t.problems.join('\n')).toMatch(/dir\.example\/hosts\.toml: not a regular file/);
    expect(t.lookup('fifo.example')).toBeUndefined();

    const many = join(tmp, 'many');
    await Promise.all(Array.from({ length: MAX_HOST_DIRS + 3 }, (_, i) => mkdir(join(many, `h${String(i).padStart(4, '0')}.example`), { recursive: true })));
    const m = readHostsDirs([many]);
    expect(m.problems).toEqual([`${many}: more than ${MAX_HOST_DIRS} host directories; only the first ${MAX_HOST_DIRS} (by name) are read`]);
    expect(m.lookup('h0000.example')).toBeDefined();
    expect(m.lookup(`h${MAX_HOST_DIRS + 1}.example`)).toBeUndefined();
  });

  it('the fingerprint changes when a file is edited, added or removed, and not otherwise', async () => {
    const d = join(tmp, 'fp');
    await hostsToml(d, 'reg.example', '[host."http://a:1"]');
    const first = await fingerprint([d, join(tmp, 'fp-missing')]);
    expect(await fingerprint([d, join(tmp, 'fp-missing')])).toBe(first);
    await writeFile(join(d, 'reg.example', 'hosts.toml'), '[host."http://b:22"]');
    const edited = await fingerprint([d, join(tmp, 'fp-missing')]);
    expect(edited).not.toBe(first);
    await hostsToml(d, '_default', '');
    expect(await fingerprint([d, join(tmp, 'fp-missing')])).not.toBe(edited);
    await rm(join(d, '_default'), { recursive: true });
    expect(await fingerprint([d, join(tmp, 'fp-missing')])).toBe(edited);
    expect(readHostsDirs([d]).lookup('reg.example')?.mirrors[0]?.host).toBe('b:22');
  });
});
