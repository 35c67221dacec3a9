/**
 * Child process of fused-lifecycle.test.ts: connects to (and so starts) the FUSE-serving
 * process of SNAPHOST_FUSED_ROOT, mounts one layer, prints the serving process's PID, and
 * exits, as snaphost would when it is restarted.
 */
import { FusedClient } from '../../../../../backends/stargz-lazy/fused-client/fused-client.js';
import { fusedCommand, quietLog } from './fused-env.js';

const env = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set`);
  return v;
};

const client = await FusedClient.connect(env('SNAPHOST_FUSED_ROOT'), { log: quietLog, config: {}, command: fusedCommand });
await client.mount({ mountpoint: env('SNAPHOST_FUSED_MOUNTPOINT'), reference: env('SNAPHOST_FUSED_REFERENCE'), digest: env('SNAPHOST_FUSED_DIGEST') });
await client.close();
process.stdout.write(`${client.status.pid}\n`);
process.exit(0);
