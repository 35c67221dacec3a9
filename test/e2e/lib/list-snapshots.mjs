#!/usr/bin/env node
// Lists the snapshots a snapshotter socket holds, asking the backend itself (not containerd's
// metadata): `node list-snapshots.mjs SOCKET` prints one `NAME<TAB>KIND<TAB>PARENT` line per
// snapshot. Exits 1 with a message when the socket does not answer within 10 s.
// (snaphost's own client, core/grpc/snapshots-client.ts, from the build in dist/.)
import { kindToProto } from '../../../dist/core/grpc/convert.js';
import { connectSnapshots } from '../../../dist/core/grpc/snapshots-client.js';

const socket = process.argv[2];
if (!socket) {
  console.error('usage: list-snapshots.mjs SOCKET');
  process.exit(2);
}
const client = connectSnapshots(socket);
const lines = [];
try {
  for await (const info of client.list([], { deadline: Date.now() + 10_000 })) lines.push(`${info.name}\t${kindToProto(info.kind)}\t${info.parent}`);
} catch (err) {
  // The grpc-js message ("14 UNAVAILABLE: …"), as before: the SDK class keeps it as its cause.
  console.error(`List on ${socket}: ${(err.cause ?? err).message}`);
  client.close();
  process.exit(1);
}
client.close();
if (lines.length > 0) console.log(lines.join('\n'));
