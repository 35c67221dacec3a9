import { defineBackend } from '../../core/sdk.js';
import { createMemorySnapshotter } from './memory-snapshotter.js';
import { memoryOptions } from './options.js';

export default defineBackend({
  name: 'memory',
  apiVersion: 2,
  description: 'snapshots in a tmpfs mounted under the root, metadata in process memory; nothing survives a restart',
  options: memoryOptions,
  create: (options, ctx) => createMemorySnapshotter(options, ctx),
});
