/**
 * One pass through what the first calls of a freshly started daemon run in the gRPC adapter,
 * before the sockets serve: protobufjs builds each message type's encoder and decoder when the
 * type is first used, and Node compiles each function on its first call. A daemon paid both
 * inside containerd's first Prepare, List and Stat, on the critical path of its first pull
 * (the filtered List of the remote-snapshot protocol parses containerd's filter grammar).
 * Every method's request and response go through their codecs once, and a filter like
 * containerd's is parsed and matched. No backend is called and nothing is kept; a failure is
 * only logged (the calls themselves then pay, as before).
 */
import type { Logger } from '../logger.js';
import { parseFilters } from '../contract/filters.js';
import type { Info } from '../contract/snapshotter.js';
import type { SnapshotsDefinition } from './generated/containerd/services/snapshots/v1/Snapshots.js';

const TIME = { seconds: '1700000000', nanos: 1 };
const LABELS = { 'containerd.io/snapshot.ref': 'sha256:0', 'containerd.io/gc.root': '2024-01-01T00:00:00Z' };
const INFO = { name: 'warm-up', parent: 'warm-up-parent', kind: 'COMMITTED', createdAt: TIME, updatedAt: TIME, labels: LABELS };
/** Every field of every request message (each type ignores the fields it does not have). */
const REQUEST = { snapshotter: 'warm-up', key: 'warm-up', parent: 'warm-up-parent', name: 'warm-up', labels: LABELS, info: INFO, updateMask: { paths: ['labels.a'] }, filters: ['kind==committed'] };
/** The same for the responses; List answers `info` as a list. */
const RESPONSE = { mounts: [{ type: 'overlay', source: 'overlay', target: '', options: ['lowerdir=/a:/b'] }], info: INFO, size: '1', inodes: '1' };
const LIST_RESPONSE = { info: [INFO] };
const FILTER = 'labels."containerd.io/snapshot.ref"==sha256:0,parent==warm-up-parent';

let done = false;

export function warmUpCodecs(service: SnapshotsDefinition, log: Logger): void {
  if (done) return;
  done = true;
  try {
    for (const method of Object.values(service)) {
      method.requestDeserialize(method.requestSerialize(REQUEST as never));
      const response = method.responseStream ? LIST_RESPONSE : RESPONSE;
      method.responseDeserialize(method.responseSerialize(response as never));
    }
    const info: Info = { name: 'warm-up', parent: 'warm-up-parent', kind: 'committed', labels: { ...LABELS }, created: 0n, updated: 0n };
    parseFilters([FILTER, 'kind==active']).match(info);
  } catch (err) {
    log.debug({ err }, 'warm-up of the gRPC codecs failed (the first calls compile them instead)');
  }
}
