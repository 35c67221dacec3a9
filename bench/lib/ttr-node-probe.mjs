// Which packages of APP/node_modules load with a plain `require()` in Node (each tried in a child
// process of its own, 15 s at most, without output on stdout): prints them as a JSON array, for the
// time-to-ready Node image (bench/lib/ttr-images.sh). Packages that need a bundler, a DOM, a
// build step or exit/print on load are left out.
//   node bench/lib/ttr-node-probe.mjs APP
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';

const app = process.argv[2];
if (!app) {
  console.error('usage: ttr-node-probe.mjs APP');
  process.exit(2);
}
const root = join(app, 'node_modules');
const names = [];
for (const d of readdirSync(root, { withFileTypes: true })) {
  if (d.name.startsWith('.') || !d.isDirectory()) continue;
  if (d.name.startsWith('@')) {
    for (const s of readdirSync(join(root, d.name), { withFileTypes: true })) if (s.isDirectory()) names.push(`${d.name}/${s.name}`);
  } else names.push(d.name);
}
names.sort();
const ok = [];
for (const name of names) {
  const r = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(name)})`], {
    cwd: app,
    timeout: 15_000,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  if (r.status === 0 && r.stdout === '') ok.push(name);
}
console.error(`ttr-node-probe: ${ok.length} of ${names.length} packages load with require()`);
process.stdout.write(`${JSON.stringify(ok)}\n`);
