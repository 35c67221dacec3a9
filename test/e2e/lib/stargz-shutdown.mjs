#!/usr/bin/env node
// The explicit full stop of one stargz-lazy root, through the backend's own `shutdown` (what
// `snaphost shutdown` calls for it): `node stargz-shutdown.mjs ROOT` stops the root's
// FUSE-serving process (its layers unmounted lazily) and prints the backend's one-line answer.
// Uses the built backend (dist/). Exits 1 with a message when the shutdown fails.
import pino from 'pino';

const root = process.argv[2];
if (!root || process.argv.length !== 3) {
  console.error('usage: stargz-shutdown.mjs ROOT');
  process.exit(2);
}
const { default: backend } = await import(new URL('../../../dist/backends/stargz-lazy/index.js', import.meta.url).href);
try {
  const line = await backend.shutdown(backend.options.parse({}), {
    name: 'stargz-lazy',
    root,
    log: pino({ level: 'silent' }),
    signal: AbortSignal.timeout(60_000),
  });
  console.log(line);
} catch (err) {
  console.error(`stargz-lazy shutdown of ${root} failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}
