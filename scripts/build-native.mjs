#!/usr/bin/env node
// Builds the kernel FUSE transport's N-API addon (backends/stargz-lazy/fuse-kernel/native/) at
// `npm install` / `npm ci` (package.json "install"), with the node-gyp that npm bundles, OFFLINE:
// against the headers of the Node.js running this script (its prefix's include/node), never
// downloaded ones.
//
// Without a compiler (or headers) the build fails; then:
//   SNAPHOST_NATIVE=required   (scripts/install-deps.sh, CI, the image build): exit 1, saying why
//   otherwise                  a warning and exit 0: the install goes on, and selecting
//                              fs.transport "kernel" later says the addon is not built.
// SNAPHOST_NATIVE=skip builds nothing.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const addonDir = path.join(root, 'backends/stargz-lazy/fuse-kernel/native');
const built = path.join(addonDir, 'build/Release/snaphost_fuse_kernel.node');
const mode = process.env.SNAPHOST_NATIVE ?? 'optional';
const log = (msg) => console.error(`[build-native] ${msg}`);

function fail(why) {
  if (mode === 'required') {
    log(`${why}`);
    log('SNAPHOST_NATIVE=required: failing the install (install the compiler: apt-get install g++ make python3)');
    process.exit(1);
  }
  log(`warning: ${why}`);
  log('the kernel FUSE transport is not built; fs.transport "fuse-native" works without it (set SNAPHOST_NATIVE=required to make this an error)');
  process.exit(0);
}

if (mode === 'skip') {
  log('SNAPHOST_NATIVE=skip: not building the addon');
  process.exit(0);
}
if (!['required', 'optional'].includes(mode)) fail(`SNAPHOST_NATIVE=${mode}: expected required, optional or skip`);
if (process.platform !== 'linux') fail(`the kernel FUSE transport is Linux only (this is ${process.platform})`);

// The running node's prefix: <prefix>/bin/node, headers in <prefix>/include/node.
const nodedir = path.resolve(path.dirname(process.execPath), '..');
if (!existsSync(path.join(nodedir, 'include/node/node_api.h'))) fail(`no Node.js headers at ${nodedir}/include/node (node_api.h): the addon is built offline against the running Node.js's headers`);

// npm's bundled node-gyp: from npm_execpath (set when npm runs this script), else next to node.
const candidates = [];
if (process.env.npm_execpath) candidates.push(path.join(path.dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'));
candidates.push(path.join(nodedir, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'));
const nodeGyp = candidates.find((c) => existsSync(c));
if (nodeGyp === undefined) fail(`npm's bundled node-gyp not found (looked at ${candidates.join(', ')})`);

for (const tool of ['make', 'cc', 'c++', 'python3']) {
  const r = spawnSync('sh', ['-c', `command -v ${tool}`], { stdio: 'ignore' });
  if (r.status !== 0) fail(`'${tool}' is not installed: node-gyp needs make, a C compiler (cc; c++ links), and python3`);
}

const started = Date.now();
const r = spawnSync(process.execPath, [nodeGyp, 'rebuild', `--nodedir=${nodedir}`, '--loglevel=warn'], {
  cwd: addonDir,
  encoding: 'utf8',
  // Offline: nothing to download when --nodedir has the headers; never ask a proxy either.
  env: { ...process.env, npm_config_nodedir: nodedir, npm_config_offline: 'true' },
  maxBuffer: 16 * 1024 * 1024,
});
if (r.status !== 0 || !existsSync(built)) {
  const out = `${r.stdout ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-25).join('\n');
  fail(`node-gyp failed in ${path.relative(root, addonDir)} (${r.error?.message ?? `exit ${r.status}`}):\n${out}`);
}
log(`built ${path.relative(root, built)} against Node.js ${process.version} headers in ${nodedir} (${Date.now() - started} ms)`);
