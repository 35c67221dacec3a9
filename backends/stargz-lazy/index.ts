import { defineBackend } from '../../core/sdk.js';
import { fusedConfigOf } from './fused-config-of.js';
import { FusedClientLink } from './fused-client-link.js';
import { openSnapshotter } from './open-snapshotter.js';
import { stargzLazyOptions } from './options.js';

export default defineBackend({
  name: 'stargz-lazy',
  apiVersion: 1,
  description: 'lazy pulling of eStargz images: layers mounted from the registry with FUSE, fetched and verified on first read; other images pulled as with overlayfs',
  capabilities: { remoteSnapshots: true },
  options: stargzLazyOptions,
  create: (options, ctx) => openSnapshotter(options, ctx, (root, opts, log) => new FusedClientLink(root, fusedConfigOf(opts, log), log, opts.fusedStartTimeoutMs)),
});
