// The benchmarks' Snapshots client is snaphost's own (core/grpc/snapshots-client.ts, from the
// build in dist/), the same client for snaphost and for containerd's reference server, so
// latency differences come from the servers, not from two different clients.
import { connectSnapshots } from '../../dist/core/grpc/snapshots-client.js';

export { connectSnapshots };

/** Cleanup; a server without it (NotImplementedError) counts as done. */
export async function cleanup(client) {
  try {
    await client.cleanup();
  } catch (err) {
    if (err.code !== 'NOT_IMPLEMENTED') throw err;
  }
}

/** Every Info the server lists (filters ORed, empty = all), as an array. */
export function listAll(client, filters = []) {
  return Array.fromAsync(client.list(filters));
}
