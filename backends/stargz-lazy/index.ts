import { defineBackend } from '../../core/sdk.js';
import { fusedConfigOf } from './fused-client/fused-config-of.js';
import { FusedClientLink } from './fused-client/fused-client-link.js';
import { GenerationsLink } from './fused-host/generations-link.js';
import { sweepRuntimes } from './fused-host/runtime-copy.js';
import { openSnapshotter } from './snapshotter/open-snapshotter.js';
import { stargzLazyOptions } from './options.js';
import { describeStop, shutdownFused } from './fused-client/stop-fused.js';

export default defineBackend({
  name: 'stargz-lazy',
  apiVersion: 1,
  description: 'lazy pulling of eStargz images: layers mounted from the registry with FUSE, fetched and verified on first read; other images pulled as with overlayfs',
  capabilities: { remoteSnapshots: true },
  options: stargzLazyOptions,
  create: (options, ctx) =>
    openSnapshotter(options, ctx, (root, opts, log) =>
      opts.fusedOnHost.enabled
        ? new GenerationsLink({ root, config: fusedConfigOf(opts, log), log, startTimeoutMs: opts.fusedStartTimeoutMs, host: opts.fusedOnHost })
        : new FusedClientLink(root, fusedConfigOf(opts, log), log, opts.fusedStartTimeoutMs),
    ),
  // The FUSE-serving process outlives snaphost on purpose; only this stops it (and the layer
  // mounts of running containers with it).
  // With `fusedOnHost`, every generation's process stops, and the runtime copies go with them.
  shutdown: async (_options, ctx) => {
    const stopped = describeStop(ctx.root, await shutdownFused(ctx.root));
    const removed = await sweepRuntimes(ctx.root, undefined, ctx.log);
    return removed.length > 0 ? `${stopped}; removed ${removed.length} FUSE-serving process runtime(s)` : stopped;
  },
});
