/**
 * Is a layer blob reachable right now? One authenticated HEAD of the blob per location
 * (registry endpoints in order, then the layer's URLs), no retries, bounded by `timeoutMs`
 * in all: the availability check of `mounts` must answer in a few seconds even when a
 * registry hangs. The first location that answers 200 makes the blob reachable; otherwise the
 * reason names the registry host and what went wrong (`registry 127.0.0.1:5000 unreachable:
 * connect ECONNREFUSED 127.0.0.1:5000`, `… answered HTTP 401`).
 *
 * Uses only the client's public `locations` / `send` (authorization, token refresh and
 * redirects are the client's).
 */
import type { LayerBlob } from './blob-source.js';
import { drain } from './read-body.js';
import type { ImageReference } from './reference.js';
import type { BlobLocation } from './blob-transport.js';
import type { RegistryClient } from './registry-client.js';
import { transportReason } from './registry-errors.js';
import { Retryable } from './retry.js';

/** `answered`: some location gave an HTTP answer (the host is up, the blob is not served). */
export type ProbeResult = { reachable: true } | { reachable: false; reason: string; answered: boolean };

export interface ProbeOptions {
  /** Bound on the whole probe, every location included. */
  timeoutMs: number;
  signal?: AbortSignal | undefined;
}

export async function probeBlob(
  client: Pick<RegistryClient, 'locations' | 'send'>,
  reference: ImageReference,
  layer: LayerBlob,
  o: ProbeOptions,
): Promise<ProbeResult> {
  const deadline = AbortSignal.timeout(o.timeoutMs);
  const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
  const reasons: string[] = [];
  let answered = false;
  for (const loc of client.locations(reference, layer)) {
    if (signal.aborted) break;
    const r = await probeLocation(client, loc, signal, o.timeoutMs);
    if (r === undefined) return { reachable: true };
    answered ||= r.answered;
    reasons.push(r.reason);
  }
  if (o.signal?.aborted) throw o.signal.reason;
  if (reasons.length === 0) reasons.push(`registry ${reference.host} unreachable: no answer within ${o.timeoutMs} ms`);
  return { reachable: false, reason: reasons.join('; '), answered };
}

/** Undefined when the blob answered 200 there; else why not. */
async function probeLocation(
  client: Pick<RegistryClient, 'send'>,
  loc: BlobLocation,
  signal: AbortSignal,
  timeoutMs: number,
): Promise<{ reason: string; answered: boolean } | undefined> {
  const where = loc.auth ? `registry ${loc.auth.host}` : new URL(loc.url).host;
  try {
    const res = await client.send(loc, 'HEAD', {}, signal);
    await drain(res);
    if (res.statusCode === 200) return undefined;
    return { reason: `${where} answered HTTP ${res.statusCode} for blob ${blobOf(loc)}`, answered: true };
  } catch (err) {
    if (signal.aborted) return { reason: `${where} unreachable: no answer within ${timeoutMs} ms`, answered: false };
    const inner = err instanceof Retryable ? err.error : err;
    const cause = (inner as { cause?: unknown }).cause;
    return { reason: `${where} unreachable: ${transportReason(cause ?? inner)}`, answered: false };
  }
}

function blobOf(loc: BlobLocation): string {
  return loc.url.slice(loc.url.lastIndexOf('/') + 1);
}
