// A CPU profile of every node process started with this preloaded, written when it exits:
//
//   NODE_OPTIONS="--require /abs/bench/lib/stargz-cpu-prof.cjs" SNAPHOST_BENCH_PROFILE_DIR=DIR …
//
// `--cpu-prof` is not allowed in NODE_OPTIONS, and stargz-lazy's FUSE-serving process (fused)
// is spawned by snaphost with its own arguments, so the flag cannot reach it; the environment
// does. Writes DIR/<script>.<pid>.cpuprofile (the format `--cpu-prof` writes, read by
// bench/lib/cpuprofile-top.mjs) on a normal exit or process.exit() (fused exits that way on
// SIGTERM). An in-thread inspector session answers synchronously, so stopping and writing from
// the 'exit' handler works.
'use strict';
const { Session } = require('node:inspector');
const { mkdirSync, writeFileSync } = require('node:fs');
const { basename, join } = require('node:path');

const dir = process.env.SNAPHOST_BENCH_PROFILE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  session.post('Profiler.enable');
  session.post('Profiler.setSamplingInterval', { interval: 1000 });
  session.post('Profiler.start');
  process.on('exit', () => {
    session.post('Profiler.stop', (err, result) => {
      if (err) return;
      const script = basename(process.argv[1] ?? 'node', '.js');
      mkdirSync(dir, { recursive: true });
      // The profile's times are CLOCK_MONOTONIC microseconds (as process.hrtime); `clock` pairs
      // one such reading with the wall clock so bench/lib/cpuprofile-timeline.mjs can line the
      // samples up with log timestamps.
      const clock = { monoUs: Number(process.hrtime.bigint() / 1000n), epochMs: Date.now() };
      writeFileSync(join(dir, `${script}.${process.pid}.cpuprofile`), JSON.stringify({ ...result.profile, clock }));
    });
  });
}
