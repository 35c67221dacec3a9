import { defineBackend, NO_REGISTRY_CREDENTIALS } from '../../core/sdk.js';
import { fusedConfigOf } from './fused-client/fused-config-of.js';
import { CredentialsFeed, NO_PULL_SECRETS } from './fused-client/credentials-feed.js';
import { FusedClientLink } from './fused-client/fused-client-link.js';
import { readPullSecrets, scanPullSecrets } from './pull-secrets/read-pull-secrets.js';
import { PullSecretsWatch } from './pull-secrets/pull-secrets-watch.js';
import { GenerationsLink } from './fused-host/generations-link.js';
import { sweepRuntimes } from './fused-host/runtime-copy.js';
import { readHostsDirs } from './registry/hosts-dirs.js';
import { openSnapshotter } from './snapshotter/open-snapshotter.js';
import { stargzLazyOptions } from './options.js';
import { describeStop, shutdownFused } from './fused-client/stop-fused.js';
import { budgetProblems } from './protocol/memory-budget.js';

export default defineBackend({
  name: 'stargz-lazy',
  apiVersion: 1,
  description: 'lazy pulling of eStargz images: layers mounted from the registry with FUSE, fetched and verified on first read; other images pulled as with overlayfs',
  capabilities: { remoteSnapshots: true },
  options: stargzLazyOptions,
  async create(options, ctx) {
    const { pullSecrets } = options.registry;
    const secrets = pullSecrets.length > 0 ? await PullSecretsWatch.open(pullSecrets, ctx.log) : undefined;
    try {
      return await openSnapshotter(options, ctx, (root, opts, log) => {
        // Registry credentials the host learns (CRI proxy) and the pull secrets reach the FUSE
        // process through the link, on every connect and on every change.
        const source = ctx.registryCredentials ?? NO_REGISTRY_CREDENTIALS; // a context made by hand (tests) may lack it
        const credentials = new CredentialsFeed({ source, pullSecrets: secrets ?? NO_PULL_SECRETS, log, onClose: () => secrets?.close() });
        const config = fusedConfigOf(opts, log);
        return opts.fusedOnHost.enabled
          ? new GenerationsLink({ root, config, log, startTimeoutMs: opts.fusedStartTimeoutMs, host: opts.fusedOnHost, credentials })
          : new FusedClientLink(root, config, log, opts.fusedStartTimeoutMs, undefined, credentials);
      });
    } catch (err) {
      secrets?.close();
      throw err;
    }
  },
  // Broken pull secrets and registry hosts files, a memory ceiling below the memory cache (`snaphost check`); the backend serves with the others.
  check: async (options) => {
    const { pullSecrets, hostsDirs } = options.registry;
    const secrets = pullSecrets.length > 0 ? (await readPullSecrets(await scanPullSecrets(pullSecrets))).problems : [];
    let hosts: string[] = [];
    try {
      if (hostsDirs.length > 0) hosts = readHostsDirs(hostsDirs).problems.map((p) => `registry hosts directory: ${p}`);
    } catch (err) {
      hosts = [`registry hosts directories: cannot read them: ${(err as Error).message}`];
    }
    return [...secrets, ...hosts, ...budgetProblems(options.fusedMemoryLimitBytes, options.cache.memoryBytes)];
  },
  // The FUSE-serving process outlives snaphost on purpose; only this stops it (and the layer
  // mounts of running containers with it).
  // With `fusedOnHost`, every generation's process stops, and the runtime copies go with them.
  shutdown: async (_options, ctx) => {
    const stopped = describeStop(ctx.root, await shutdownFused(ctx.root));
    const removed = await sweepRuntimes(ctx.root, undefined, ctx.log);
    return removed.length > 0 ? `${stopped}; removed ${removed.length} FUSE-serving process runtime(s)` : stopped;
  },
});
