/**
 * Whether a served layer can be read in full now (`POST /v1/check`): every chunk cached, or
 * its registry reachable (a memoized, bounded probe, see reachability.ts).
 */
import type { ProbeResult } from '../registry/probe-blob.js';
import { parseReference } from '../registry/reference.js';
import type { LayerCheck, MountRequest } from '../protocol/control-protocol.js';
import { percent } from '../protocol/percent.js';
import type { Reachability, ReachabilityTarget } from './reachability.js';
import type { Served, ServedLayer } from './served-layer.js';

/** The answer for `mountpoint`, served by `s` (undefined: not served). */
export async function checkLayer<L extends ServedLayer>(
  mountpoint: string,
  s: Served<L> | undefined,
  reachability: Reachability,
  probe: (r: MountRequest) => Promise<ProbeResult>,
): Promise<LayerCheck> {
  if (!s || s.state !== 'mounted') {
    return { mountpoint, served: false, available: false, reason: 'not served by the FUSE-serving process', fetchedBytes: 0, totalBytes: 0 };
  }
  const { digest, reference } = s.request;
  const { fetchedBytes, totalBytes } = s.layer.progress();
  const base = { mountpoint, served: true, digest, reference, fetchedBytes, totalBytes };
  if (fetchedBytes >= totalBytes) return { ...base, available: true };
  const r = await reachability.check(reachabilityTarget(s.request), () => probe(s.request));
  if (r.reachable) return { ...base, available: true };
  // "percent", not "%": containerd formats an error's text as a format string (errdefs.FromGRPC).
  const cached = percent(fetchedBytes, totalBytes);
  return { ...base, available: false, reason: `${r.reason}; ${cached} percent of the layer is cached` };
}

/** The key under which a layer's blob reachability is remembered (see reachability.ts). */
export function reachabilityTarget(r: MountRequest): ReachabilityTarget {
  const ref = parseReference(r.reference, 'reference');
  return { host: ref.host, key: `${ref.host}/${ref.repository}@${r.digest}` };
}
