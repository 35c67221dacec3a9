/**
 * One `kubernetes.io/dockerconfigjson` secret (its `.dockerconfigjson` key): `{"auths": {key:
 * {auth | username+password | identitytoken | registrytoken}}}`, checked and bounded, turned
 * into host-keyed credentials (credentials-protocol.ts). Errors name the file and the key,
 * never a value (JSON.parse's own message quotes the text, so it is not passed on).
 */
import { z } from '../../../core/sdk.js';
import {
  MAX_SECRET_CHARS,
  MAX_USERNAME_CHARS,
  registryAuthSchema,
  type WireHostCredentials,
  type WireRegistryAuth,
} from '../protocol/credentials-protocol.js';
import { parsePullSecretKey } from './pull-secret-key.js';

/** A secret's data is at most 1 MiB in Kubernetes; a pull secret is a few KiB. */
export const MAX_PULL_SECRET_BYTES = 256 * 1024;
/** Registries named in one file. */
export const MAX_PULL_SECRET_AUTHS = 128;

const field = (max: number) => z.string().max(max).optional();

const authEntrySchema = z
  .object({
    auth: field(MAX_SECRET_CHARS * 2),
    username: field(MAX_USERNAME_CHARS),
    password: field(MAX_SECRET_CHARS),
    identitytoken: field(MAX_SECRET_CHARS),
    registrytoken: field(MAX_SECRET_CHARS),
    email: field(1024),
  })
  .passthrough();

const fileSchema = z
  .object({
    auths: z
      .record(z.string().max(512), authEntrySchema)
      .refine((a) => Object.keys(a).length <= MAX_PULL_SECRET_AUTHS, `at most ${MAX_PULL_SECRET_AUTHS} registries`),
  })
  .passthrough();

export interface ParsedPullSecret {
  entries: WireHostCredentials[];
  /** Keys left out, and why (the file's other keys are used). */
  skipped: string[];
}

export class PullSecretError extends Error {
  override name = 'PullSecretError';
}

export function parsePullSecret(text: string, file: string): ParsedPullSecret {
  if (Buffer.byteLength(text) > MAX_PULL_SECRET_BYTES) throw new PullSecretError(`pull secret ${file} is larger than ${MAX_PULL_SECRET_BYTES} bytes`);
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PullSecretError(`pull secret ${file} is not JSON`);
  }
  const parsed = fileSchema.safeParse(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`);
    throw new PullSecretError(`pull secret ${file} is not a dockerconfigjson: ${issues.join('; ')}`);
  }
  const entries: WireHostCredentials[] = [];
  const skipped: string[] = [];
  for (const [key, entry] of Object.entries(parsed.data.auths)) {
    const where = `auths[${JSON.stringify(key)}]`;
    const target = parsePullSecretKey(key);
    if ('error' in target) {
      skipped.push(`${where}: ${target.error}`);
      continue;
    }
    const auth = authOf(entry);
    if (typeof auth === 'string') {
      skipped.push(`${where}: ${auth}`);
      continue;
    }
    const checked = registryAuthSchema.safeParse(auth);
    if (!checked.success) {
      skipped.push(`${where}: ${checked.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
      continue;
    }
    entries.push({ ...target, auth: checked.data });
  }
  return { entries, skipped };
}

/** The auth of an entry, or why there is none. */
function authOf(e: z.output<typeof authEntrySchema>): WireRegistryAuth | string {
  if (e.registrytoken) return { kind: 'registryToken', registryToken: e.registrytoken };
  if (e.identitytoken) return e.username ? { kind: 'identityToken', identityToken: e.identitytoken, username: e.username } : { kind: 'identityToken', identityToken: e.identitytoken };
  if (e.username !== undefined && e.password !== undefined && e.username !== '') return { kind: 'password', username: e.username, password: e.password };
  if (e.auth) {
    const compact = e.auth.replace(/\s+/g, '');
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(compact) || compact.length % 4 === 1) return 'auth: not base64';
    const decoded = Buffer.from(compact, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon <= 0) return 'auth: expected base64 of "username:password"';
    return { kind: 'password', username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (e.username || e.password) return 'username and password go together';
  return 'no credentials (auth, username and password, identitytoken or registrytoken)';
}
