#!/usr/bin/env node
// Read latency of a lazily pulled tree, measured from the host, for stargz-lazy-hostile.e2e.sh.
//   node read-latency-probe.mjs run --dir DIR --files A,B,… --out OUT [--pause-ms 20] [--slow-ms 20]
//     Reads the files (paths relative to DIR) round robin until killed: each read is a fresh
//     open with O_DIRECT, a 4 KiB read at the next 4 KiB offset of the file (wrapping), and a
//     close. O_DIRECT makes every read a FUSE READ answered by the FUSE process (the layers are
//     mounted with kernel_cache, so a buffered read of a cached page would never reach it), and
//     the open and close are FUSE requests too. The reads are asynchronous (libuv's thread pool),
//     so a read stuck in the kernel does not stop this process's bookkeeping: every 100 ms it
//     writes OUT/status.json ({reads, errors, lastError, direct, inflightSince}); every read
//     slower than --slow-ms goes to OUT/slow.jsonl as {t (start, epoch ms), ms, file}.
//   node read-latency-probe.mjs report --out OUT --from EPOCH_MS [--to EPOCH_MS]
//     Prints "MAX_MS READS ERRORS WORST" for the reads started in [from, to] (to: now), a read
//     still in flight counting with its age so far. WORST names the slowest read.
import { appendFileSync, constants, existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';

const { positionals, values: args } = parseArgs({
  allowPositionals: true,
  options: {
    dir: { type: 'string' },
    files: { type: 'string' },
    out: { type: 'string' },
    'pause-ms': { type: 'string', default: '20' },
    'slow-ms': { type: 'string', default: '20' },
    from: { type: 'string' },
    to: { type: 'string' },
  },
});

async function run() {
  const files = (args.files ?? '').split(',').filter(Boolean);
  if (!args.dir || !args.out || files.length === 0) throw new Error('run needs --dir, --files and --out');
  const pause = Number(args['pause-ms']);
  const slow = Number(args['slow-ms']);
  const status = { pid: process.pid, reads: 0, errors: 0, lastError: null, direct: true, inflightSince: null, inflightFile: null };
  const writeStatus = () => {
    writeFileSync(join(args.out, 'status.json.tmp'), JSON.stringify(status));
    renameSync(join(args.out, 'status.json.tmp'), join(args.out, 'status.json'));
  };
  writeStatus();
  setInterval(writeStatus, 100);
  const offsets = new Map();
  const buf = Buffer.alloc(4096);
  for (let i = 0; ; i = (i + 1) % files.length) {
    const file = files[i];
    const path = join(args.dir, file);
    const at = offsets.get(file) ?? 0;
    const t = Date.now();
    const t0 = process.hrtime.bigint();
    status.inflightSince = t;
    status.inflightFile = file;
    let err = null;
    try {
      let fh;
      try {
        fh = await open(path, status.direct ? constants.O_RDONLY | constants.O_DIRECT : constants.O_RDONLY);
      } catch (e) {
        if (e.code !== 'EINVAL' || !status.direct) throw e;
        status.direct = false; // O_DIRECT refused: fresh buffered opens (reported in status.json)
        fh = await open(path, constants.O_RDONLY);
      }
      try {
        const { bytesRead } = await fh.read(buf, 0, buf.length, at);
        offsets.set(file, bytesRead < buf.length ? 0 : at + buf.length);
      } finally {
        await fh.close();
      }
    } catch (e) {
      err = `${e.code ?? ''} ${e.message}`.trim();
    }
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    status.inflightSince = null;
    status.inflightFile = null;
    status.reads++;
    if (err) {
      status.errors++;
      status.lastError = `${file}: ${err}`;
    }
    if (ms >= slow || err) appendFileSync(join(args.out, 'slow.jsonl'), `${JSON.stringify({ t, ms: Math.round(ms), file, err })}\n`);
    await sleep(pause);
  }
}

function report() {
  if (!args.out || !args.from) throw new Error('report needs --out and --from');
  const from = Number(args.from);
  const to = args.to ? Number(args.to) : Date.now();
  let max = 0;
  let worst = 'none';
  let errors = 0;
  const slowFile = join(args.out, 'slow.jsonl');
  if (existsSync(slowFile)) {
    for (const line of readFileSync(slowFile, 'utf8').split('\n')) {
      if (!line) continue;
      const r = JSON.parse(line);
      if (r.t < from || r.t > to) continue;
      if (r.err) errors++;
      if (r.ms > max) {
        max = r.ms;
        worst = `${r.file}@${new Date(r.t).toISOString()}`;
      }
    }
  }
  const status = JSON.parse(readFileSync(join(args.out, 'status.json'), 'utf8'));
  if (status.inflightSince !== null && status.inflightSince <= to) {
    const age = Date.now() - Math.max(status.inflightSince, from);
    if (age > max) {
      max = age;
      worst = `${status.inflightFile}@${new Date(status.inflightSince).toISOString()}(still-in-flight)`;
    }
  }
  console.log(`${Math.round(max)} ${status.reads} ${errors} ${worst}`);
}

if (positionals[0] === 'run') await run();
else if (positionals[0] === 'report') report();
else {
  console.error('usage: read-latency-probe.mjs run|report …');
  process.exit(2);
}
