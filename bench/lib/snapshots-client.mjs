// A promise-based grpc-js client for containerd.services.snapshots.v1.Snapshots on a unix
// socket, loaded from the repo's proto/ with @grpc/proto-loader. Used by the benchmarks to
// drive snaphost and containerd's reference server with the SAME client code, so latency
// differences come from the servers, not from two different clients.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const protoDir = join(dirname(fileURLToPath(import.meta.url)), '../../proto');
const definition = protoLoader.loadSync('containerd/services/snapshots/v1/snapshots.proto', {
  includeDirs: [protoDir],
  keepCase: false,
  longs: String,
  enums: String,
  defaults: true,
});
const Snapshots = grpc.loadPackageDefinition(definition).containerd.services.snapshots.v1.Snapshots;

/** One connection to a snapshotter socket. Every method rejects with the grpc-js ServiceError. */
export class SnapshotsClient {
  /** @param {string} socket absolute path of the unix socket */
  constructor(socket) {
    this.socket = socket;
    this.client = new Snapshots(`unix://${socket}`, grpc.credentials.createInsecure());
  }

  /** Resolves when the channel is READY (or rejects after `ms`). */
  ready(ms = 10_000) {
    return new Promise((resolve, reject) => {
      this.client.waitForReady(Date.now() + ms, (err) => (err ? reject(new Error(`${this.socket}: ${err.message}`)) : resolve()));
    });
  }

  unary(method, request) {
    return new Promise((resolve, reject) => {
      this.client[method](request, (err, res) => (err ? reject(err) : resolve(res)));
    });
  }

  prepare(key, parent = '', labels = {}) { return this.unary('Prepare', { key, parent, labels }); }
  view(key, parent = '', labels = {}) { return this.unary('View', { key, parent, labels }); }
  mounts(key) { return this.unary('Mounts', { key }); }
  commit(name, key, labels = {}) { return this.unary('Commit', { name, key, labels }); }
  remove(key) { return this.unary('Remove', { key }); }
  stat(key) { return this.unary('Stat', { key }); }
  usage(key) { return this.unary('Usage', { key }); }

  /** Cleanup; a server without it (UNIMPLEMENTED, code 12) counts as done. */
  async cleanup() {
    try {
      await this.unary('Cleanup', {});
    } catch (err) {
      if (err.code !== grpc.status.UNIMPLEMENTED) throw err;
    }
  }

  /** Every Info the server lists (filters ORed, empty = all). */
  list(filters = []) {
    return new Promise((resolve, reject) => {
      const infos = [];
      const call = this.client.List({ filters });
      call.on('data', (res) => { for (const info of res.info) infos.push(info); });
      call.on('error', reject);
      call.on('end', () => resolve(infos));
    });
  }

  close() { this.client.close(); }
}

/** Removes every snapshot the server lists, children before their parents. */
export async function removeAll(client) {
  for (let pass = 0; pass < 1000; pass++) {
    const infos = await client.list();
    if (infos.length === 0) return;
    const parents = new Set(infos.map((i) => i.parent));
    const leaves = infos.filter((i) => !parents.has(i.name));
    for (const info of leaves) await client.remove(info.name);
  }
  throw new Error(`${client.socket}: snapshots left after 1000 removal passes`);
}
