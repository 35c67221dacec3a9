/**
 * Docker credential helpers (`docker-credential-<name> get`): the server address on stdin,
 * `{"ServerURL","Username","Secret"}` on stdout. `credentials not found in native keychain`
 * (exit 1) means none are stored; a `<token>` username means the secret is an identity token
 * (a refresh token for the registry's OAuth2 endpoint). The helper runs for a bounded time.
 */
import { spawn } from 'node:child_process';
import { z } from '../../../core/sdk.js';
import type { Credentials } from './credentials.js';
import { CredentialsError } from './registry-errors.js';

const NOT_FOUND = 'credentials not found in native keychain';
const MAX_OUTPUT = 1 << 20;

const answerSchema = z.object({ Username: z.string().default(''), Secret: z.string().default('') }).passthrough();

export interface HelperOptions {
  timeoutMs: number;
  /** Names where the helper is configured, for messages (`credsStore in /root/.docker/config.json`). */
  source: string;
  env?: NodeJS.ProcessEnv;
}

/** Credentials a helper holds for `server`, undefined when it has none. */
export async function helperCredentials(name: string, server: string, opts: HelperOptions): Promise<Credentials | undefined> {
  const command = `docker-credential-${name}`;
  const what = `credential helper ${command} (${opts.source}) for ${server}`;
  const { code, stdout, stderr } = await run(command, server, opts, what);
  const out = stdout.trim();
  if (code !== 0) {
    if (out === NOT_FOUND || stderr.trim() === NOT_FOUND) return undefined;
    const detail = (stderr.trim() || out).slice(0, 500);
    throw new CredentialsError(`${what} failed (exit status ${code})${detail ? `: ${detail}` : ''}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(out);
  } catch {
    throw new CredentialsError(`${what}: the output is not JSON`);
  }
  const parsed = answerSchema.safeParse(json);
  if (!parsed.success) throw new CredentialsError(`${what}: expected {"Username": string, "Secret": string}`);
  const { Username: username, Secret: secret } = parsed.data;
  if (secret === '') return undefined;
  if (username === '<token>') return { identityToken: secret };
  if (username === '') throw new CredentialsError(`${what}: the answer has a Secret but no Username`);
  return { username, password: secret };
}

function run(command: string, input: string, opts: HelperOptions, what: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // Its own process group, so that a timeout kills what it started too (a shell's `sleep`
    // would otherwise hold the pipes open).
    const child = spawn(command, ['get'], { stdio: ['pipe', 'pipe', 'pipe'], env: opts.env ?? process.env, detached: true });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    let size = 0;
    let settled = false;
    const stop = (e: CredentialsError) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      try {
        if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
      } catch {
        child.kill('SIGKILL');
      }
      child.stdout.destroy();
      child.stderr.destroy();
      reject(e);
    };
    const timer = setTimeout(() => stop(new CredentialsError(`${what} did not answer within ${opts.timeoutMs} ms`)), opts.timeoutMs);
    const collect = (into: Buffer[]) => (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_OUTPUT) stop(new CredentialsError(`${what} wrote more than ${MAX_OUTPUT} bytes`));
      else into.push(chunk);
    };
    child.stdout.on('data', collect(out));
    child.stderr.on('data', collect(err));
    child.stdin.on('error', () => undefined); // a helper that exits without reading stdin
    child.once('error', (e: NodeJS.ErrnoException) => {
      stop(
        e.code === 'ENOENT'
          ? new CredentialsError(`${what}: ${command} is not on PATH`)
          : new CredentialsError(`${what} could not run: ${e.message}`, { cause: e }),
      );
    });
    child.once('close', (code, signal) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (code === null) return reject(new CredentialsError(`${what} was killed by ${signal ?? 'a signal'}`));
      resolve({ code, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
    child.stdin.end(input);
  });
}
