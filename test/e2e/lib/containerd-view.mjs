#!/usr/bin/env node
// Makes a read-only view through containerd (not the snapshotter directly), labelled
// `containerd.io/gc.root` in the same call so containerd's GC cannot collect it while it is
// mounted (`ctr snapshots view` takes no labels, and labelling it afterwards races the GC):
//   node containerd-view.mjs CONTAINERD_SOCKET NAMESPACE SNAPSHOTTER KEY PARENT
// prints the mounts as JSON: [{"type","source","options":[...]}]. Exits 1 with the error.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const [address, namespace, snapshotter, key, parent] = process.argv.slice(2);
if (!address || !namespace || !snapshotter || !key || !parent) {
  console.error('usage: containerd-view.mjs CONTAINERD_SOCKET NAMESPACE SNAPSHOTTER KEY PARENT');
  process.exit(2);
}
const protoDir = join(dirname(fileURLToPath(import.meta.url)), '../../../proto');
const definition = protoLoader.loadSync('containerd/services/snapshots/v1/snapshots.proto', {
  includeDirs: [protoDir],
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
});
const Snapshots = grpc.loadPackageDefinition(definition).containerd.services.snapshots.v1.Snapshots;
const client = new Snapshots(`unix://${address}`, grpc.credentials.createInsecure());
const md = new grpc.Metadata();
md.set('containerd-namespace', namespace);
client.View(
  { snapshotter, key, parent, labels: { 'containerd.io/gc.root': 'snaphost-e2e' } },
  md,
  { deadline: Date.now() + 60_000 },
  (err, res) => {
    client.close();
    if (err) {
      console.error(`View ${key} (parent ${parent}) on ${snapshotter}: ${err.message}`);
      process.exit(1);
    }
    console.log(JSON.stringify(res.mounts.map((m) => ({ type: m.type, source: m.source, options: m.options }))));
  },
);
