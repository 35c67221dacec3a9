#!/usr/bin/env node
// Makes a read-only view through containerd (not the snapshotter directly), labelled
// `containerd.io/gc.root` in the same call so containerd's GC cannot collect it while it is
// mounted (`ctr snapshots view` takes no labels, and labelling it afterwards races the GC):
//   node containerd-view.mjs CONTAINERD_SOCKET NAMESPACE SNAPSHOTTER KEY PARENT
// prints the mounts as JSON: [{"type","source","options":[...]}]. Exits 1 with the error.
// (snaphost's own client, core/grpc/snapshots-client.ts, from the build in dist/.)
import { connectSnapshots } from '../../../dist/core/grpc/snapshots-client.js';

const [address, namespace, snapshotter, key, parent] = process.argv.slice(2);
if (!address || !namespace || !snapshotter || !key || !parent) {
  console.error('usage: containerd-view.mjs CONTAINERD_SOCKET NAMESPACE SNAPSHOTTER KEY PARENT');
  process.exit(2);
}
const client = connectSnapshots(address, { snapshotter, namespace });
let mounts;
try {
  mounts = await client.view(key, parent, { 'containerd.io/gc.root': 'snaphost-e2e' }, { deadline: Date.now() + 60_000 });
} catch (err) {
  client.close();
  // The grpc-js message ("5 NOT_FOUND: …"), as before: the SDK class keeps it as its cause.
  console.error(`View ${key} (parent ${parent}) on ${snapshotter}: ${(err.cause ?? err).message}`);
  process.exit(1);
}
client.close();
console.log(JSON.stringify(mounts.map((m) => ({ type: m.type, source: m.source, options: m.options }))));
