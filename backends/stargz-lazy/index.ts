import { defineBackend } from '../../core/sdk.js';
import { fusedConfigOf } from './fused-client/fused-config-of.js';
import { CredentialsFeed } from './fused-client/credentials-feed.js';
import { FusedClientLink } from './fused-client/fused-client-link.js';
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
    openSnapshotter(options, ctx, (root, opts, log) => {
      // Registry credentials the host learns (CRI proxy) reach the FUSE process through the link.
      const credentials = new CredentialsFeed({ source: ctx.registryCredentials, log });
      return new FusedClientLink(root, fusedConfigOf(opts, log), log, opts.fusedStartTimeoutMs, undefined, credentials);
    }),
  // The FUSE-serving process outlives snaphost on purpose; only this stops it (and the layer
  // mounts of running containers with it).
  shutdown: async (_options, ctx) => describeStop(ctx.root, await shutdownFused(ctx.root)),
});
