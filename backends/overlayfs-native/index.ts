import { defineBackend } from '../../core/sdk.js';
import { openSnapshotter } from './open-snapshotter.js';
import { overlayfsNativeOptions } from './options.js';

export default defineBackend({
  name: 'overlayfs-native',
  apiVersion: 2,
  description: "containerd's overlayfs snapshotter: layers on disk under the root, metadata in LMDB; survives restarts and crashes",
  options: overlayfsNativeOptions,
  create: (options, ctx) => openSnapshotter(options, ctx),
});
