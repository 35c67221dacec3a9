#!/usr/bin/env node
// Waits until the machine is quiet: at least IDLE (fraction, default 0.85) of all CPU time idle
// over a 0.5 s window, for at most TIMEOUT seconds (default 120). Benchmarks call it before
// each timed step, so a burst of other work (a parallel test run) does not land in a sample.
//
//   node bench/lib/wait-quiet.mjs [--idle 0.85] [--timeout 120]
//
// Prints the seconds it waited; exits 0 even on timeout (then it says so on stderr): a busy
// machine slows a benchmark down, it does not stop it. Also usable as a module: waitQuiet().
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { fileURLToPath } from 'node:url';

/** [idle, total] jiffies of all CPUs so far (/proc/stat, iowait counted as idle). */
function cpuTimes() {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  const idle = fields[3] + (fields[4] ?? 0);
  return [idle, fields.reduce((a, b) => a + b, 0)];
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves with the seconds waited once the idle share over 0.5 s reaches `idle`. */
export async function waitQuiet({ idle = 0.85, timeoutS = 120 } = {}) {
  const start = Date.now();
  for (;;) {
    const [i0, t0] = cpuTimes();
    await sleep(500);
    const [i1, t1] = cpuTimes();
    const share = t1 > t0 ? (i1 - i0) / (t1 - t0) : 1;
    const waited = (Date.now() - start) / 1000;
    if (share >= idle) return waited;
    if (waited >= timeoutS) {
      console.error(`[wait-quiet] still ${(100 * (1 - share)).toFixed(0)}% busy after ${timeoutS}s; measuring anyway`);
      return waited;
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { idle: { type: 'string', default: '0.85' }, timeout: { type: 'string', default: '120' } }, strict: true });
  const idle = Number(values.idle);
  const timeoutS = Number(values.timeout);
  if (!(idle > 0 && idle <= 1) || !(timeoutS >= 0)) {
    console.error('usage: wait-quiet.mjs [--idle FRACTION in (0,1]] [--timeout SECONDS]');
    process.exit(2);
  }
  console.log((await waitQuiet({ idle, timeoutS })).toFixed(1));
}
