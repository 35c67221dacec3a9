/**
 * Debian's `docker-registry` (distribution 2.8) on 127.0.0.1, plain HTTP, storage in a temp
 * dir; blobs pushed with the registry v2 upload API (POST, then PUT with the content).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { closedPort } from './listen.js';

export interface DockerRegistry {
  host: string;
  origin: string;
  pushBlob(repository: string, data: Buffer): Promise<string>;
  stop(): Promise<void>;
}

export function sha256(data: Buffer): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export async function startDockerRegistry(): Promise<DockerRegistry> {
  const dir = await mkdtemp(join(tmpdir(), 'snaphost-registry-test-'));
  const host = `127.0.0.1:${await closedPort()}`;
  const origin = `http://${host}`;
  const config = join(dir, 'config.yml');
  await writeFile(
    config,
    [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${join(dir, 'data')}`,
      'http:',
      `  addr: ${host}`,
      `  secret: snaphost-unit-${process.pid}`,
      '',
    ].join('\n'),
  );
  const log = join(dir, 'registry.log');
  const { openSync, closeSync } = await import('node:fs');
  const fd = openSync(log, 'w');
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (child.exitCode !== null) throw new Error(`docker-registry exited: ${await readFile(log, 'utf8')}`);
      const ok = await fetch(`${origin}/v2/`).then((r) => r.ok, () => false);
      if (ok) break;
      if (Date.now() > deadline) throw new Error('docker-registry did not answer within 15 s');
      await new Promise((r) => setTimeout(r, 100));
    }
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    host,
    origin,
    stop,
    async pushBlob(repository, data) {
      const digest = sha256(data);
      const start = await fetch(`${origin}/v2/${repository}/blobs/uploads/`, { method: 'POST' });
      if (start.status !== 202) throw new Error(`upload start: HTTP ${start.status}`);
      const location = new URL(start.headers.get('location') ?? '', origin);
      location.searchParams.set('digest', digest);
      const put = await fetch(location, {
        method: 'PUT',
        body: data,
        headers: { 'content-type': 'application/octet-stream' },
      });
      if (put.status !== 201) throw new Error(`upload finish: HTTP ${put.status} ${await put.text()}`);
      return digest;
    },
  };
}
