/**
 * snaphost's default configuration: what `snaphost serve` (no --config) loads from the working
 * directory. Every key is validated at startup; an unknown or misspelled key is an error, and
 * every message names its path (`backends[0].options.size: …`). `snaphost check` validates
 * this file without serving; `snaphost containerd-config` prints the containerd TOML for it.
 */
import { defineConfig } from 'snaphost';

export default defineConfig({
  // Daemon log level: fatal, error, warn, info, debug, trace or silent. `--log-level` overrides.
  logLevel: 'info',
  // Where each backend's socket goes by default: <socketDir>/<name>.sock.
  socketDir: '/run/snaphost',
  // Where each backend keeps its state by default: <rootDir>/<name> (created mode 0700).
  rootDir: '/var/lib/snaphost',
  // File mode of the sockets (containerd runs as root; group access for tooling).
  socketMode: 0o660,
  // A backend's create() that takes longer than this (ms) is a named timeout error.
  createTimeoutMs: 30_000,
  // On SIGTERM/SIGINT, how long (ms) calls in flight may take to finish before they are cancelled.
  shutdownTimeoutMs: 10_000,
  backends: [
    {
      // Which backend: a built-in name, an npm package name, a file path (./x.js, relative to
      // this file) or an imported defineBackend() object.
      use: 'overlayfs-native',
      // Instance name = containerd snapshotter name (`ctr --snapshotter overlayfs-native`);
      // default: the backend's own name. Also optional: socket, root, logLevel, and
      // `optional: true` (a failure to start this backend is then logged and the others serve).
      name: 'overlayfs-native',
      // The backend's own options, validated by its schema before it starts.
      // overlayfs-native: containerd's overlayfs on disk, metadata in LMDB; survives restarts.
      options: { asyncRemove: true },
    },
    {
      use: 'memory',
      name: 'memory',
      // memory: size of the tmpfs that holds every snapshot (nothing survives a restart).
      options: { size: '1g' },
    },
  ],
});
