#!/usr/bin/env node
/**
 * Trims a production node_modules for the image: what snaphost never loads at run time goes.
 *
 *   node scripts/image/prune-node-modules.mjs NODE_MODULES ARCH(amd64|arm64) NODE_ABI
 *
 * - documentation, tests, examples, source maps, type declarations, C/C++ sources;
 * - native binaries for other systems: prebuilds/<os>-<arch> other than linux-<arch>, musl and
 *   Electron builds, `node.abiN.*.node` for another Node ABI than NODE_ABI (N-API builds stay);
 * - TypeScript down to lib/typescript.js: snaphost only transpiles a .ts config
 *   (core/config/load-typescript.ts, `transpileModule`, no type checking, no lib.*.d.ts);
 * - @types/* and fuse-shared-library's macOS / 32-bit ARM packages.
 * LICENSE files are kept. Prints what it removed.
 */
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const DROP_DIRS = new Set(['test', 'tests', '__tests__', 'example', 'examples', 'docs', 'doc', '.github', 'benchmark', 'benchmarks', 'coverage', 'man']);
const DROP_FILE = /(\.md|\.markdown|\.map|\.d\.ts|\.d\.cts|\.d\.mts|\.ts|\.c|\.cc|\.cpp|\.h|\.hpp|\.gyp|\.gypi|\.tsbuildinfo)$|^(CHANGELOG|HISTORY|Makefile|\.npmignore|\.eslintrc.*|\.prettierrc.*|\.editorconfig|tsconfig\.json|binding\.gyp)$/i;
const DROP_PACKAGES = ['@types', 'fuse-shared-library-darwin', 'fuse-shared-library-linux-arm', 'fuse-shared-library-linux/libfuse/include'];
const KEEP_IN_TYPESCRIPT_LIB = new Set(['typescript.js']);

/**
 * Whether `name` (a file or directory under node_modules, `rel` its path) goes.
 * @param {string} rel path relative to node_modules, '/'-separated
 * @param {boolean} isDir
 * @param {{ arch: string, abi: string }} target
 */
export function drops(rel, isDir, target) {
  const parts = rel.split('/');
  const name = parts[parts.length - 1];
  const nodeArch = target.arch === 'amd64' ? 'x64' : target.arch;
  if (DROP_PACKAGES.includes(rel)) return true;
  if (isDir) {
    if (DROP_DIRS.has(name)) return true;
    if (parts[parts.length - 2] === 'prebuilds' && name !== `linux-${nodeArch}`) return true;
    if (rel === 'typescript/bin') return true;
    if (parts.length === 3 && parts[0] === 'typescript' && parts[1] === 'lib') return true; // diagnostics in other languages
    return false;
  }
  if (/^LICEN[CS]E/i.test(name)) return false;
  if (DROP_FILE.test(name)) return true;
  if (parts.length === 3 && parts[0] === 'typescript' && parts[1] === 'lib' && !KEEP_IN_TYPESCRIPT_LIB.has(name)) return true;
  if (name.endsWith('.node')) {
    if (/musl/.test(name) || /^electron/.test(name)) return true;
    const abi = /\.abi(\d+)\./.exec(name);
    if (abi && abi[1] !== target.abi) return true;
  }
  return false;
}

/** Walk `root`, removing what `drops` says; returns { files, bytes } removed. */
export async function prune(root, target) {
  let files = 0;
  let bytes = 0;
  async function size(path) {
    const st = await lstat(path);
    if (!st.isDirectory()) return { n: 1, b: st.size };
    let n = 0;
    let b = 0;
    for (const e of await readdir(path)) {
      const s = await size(join(path, e));
      n += s.n;
      b += s.b;
    }
    return { n, b };
  }
  async function walk(dir, rel) {
    for (const name of (await readdir(dir)).sort()) {
      const abs = join(dir, name);
      const r = rel === '' ? name : `${rel}/${name}`;
      const st = await lstat(abs);
      if (drops(r, st.isDirectory(), target)) {
        const s = await size(abs);
        files += s.n;
        bytes += s.b;
        await rm(abs, { recursive: true, force: true });
      } else if (st.isDirectory()) {
        await walk(abs, r);
        if ((await readdir(abs)).length === 0) await rm(abs, { recursive: true });
      }
    }
  }
  await walk(root, '');
  return { files, bytes };
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [root, arch, abi] = process.argv.slice(2);
  if (!root || !['amd64', 'arm64'].includes(arch ?? '') || !/^\d+$/.test(abi ?? '')) {
    process.stderr.write('usage: prune-node-modules.mjs NODE_MODULES amd64|arm64 NODE_ABI\n');
    process.exit(2);
  }
  const r = await prune(root, { arch, abi });
  process.stdout.write(`[prune-node-modules] removed ${r.files} files, ${(r.bytes / 1e6).toFixed(1)} MB\n`);
}
