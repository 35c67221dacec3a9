#!/usr/bin/env node
// Lists the snapshots a snapshotter socket holds, asking the backend itself (not containerd's
// metadata): `node list-snapshots.mjs SOCKET` prints one `NAME<TAB>KIND<TAB>PARENT` line per
// snapshot. Exits 1 with a message when the socket does not answer within 10 s.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const socket = process.argv[2];
if (!socket) {
  console.error('usage: list-snapshots.mjs SOCKET');
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
const client = new Snapshots(`unix://${socket}`, grpc.credentials.createInsecure());
const lines = [];
const call = client.List({ snapshotter: '', filters: [] }, { deadline: Date.now() + 10_000 });
call.on('data', (res) => {
  for (const info of res.info) lines.push(`${info.name}\t${info.kind}\t${info.parent}`);
});
call.on('error', (err) => {
  console.error(`List on ${socket}: ${err.message}`);
  client.close();
  process.exit(1);
});
call.on('end', () => {
  client.close();
  if (lines.length > 0) console.log(lines.join('\n'));
});
