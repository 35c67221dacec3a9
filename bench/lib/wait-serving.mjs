#!/usr/bin/env node
// Exits 0 once a Snapshots server answers on SOCKET: `node wait-serving.mjs SOCKET [SECONDS]`.
// Asks Stat of a key that does not exist: NOT_FOUND proves the service is up. (List is no probe
// for containerd's own snapshotters: on an empty store it fails with "bucket does not exist".)
import { connectSnapshots } from './snapshots-client.mjs';

const [socket, secondsText = '30'] = process.argv.slice(2);
if (!socket || !/^[1-9][0-9]*$/.test(secondsText)) {
  console.error('usage: wait-serving.mjs SOCKET [SECONDS]');
  process.exit(2);
}
const deadline = Date.now() + Number(secondsText) * 1000;
const client = connectSnapshots(socket);
let last = 'no answer';
while (Date.now() < deadline) {
  try {
    await client.stat('snaphost-bench/probe/does-not-exist');
    last = 'Stat of a missing key succeeded';
    break;
  } catch (err) {
    if (err.code === 'NOT_FOUND') {
      client.close();
      process.exit(0);
    }
    last = err.message;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
client.close();
console.error(`${socket}: not serving: ${last}`);
process.exit(1);
