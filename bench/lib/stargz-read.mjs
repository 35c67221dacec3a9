#!/usr/bin/env node
// Timed reads for the stargz benchmark; the timer covers only open + read, not node's start-up.
//
//   node bench/lib/stargz-read.mjs ttfb FILE   prints SECONDS: open, then one read(2) of 1 byte
//   node bench/lib/stargz-read.mjs seq FILE    prints "SECONDS MIB_PER_S BYTES": the whole file
//                                              in 1 MiB read(2) calls, in order
// Plain read(2) calls on a file descriptor (no stream, no userland read-ahead), as the Go
// reference's benchmark does with Python's unbuffered reads. Exits 1 with the error on a failed
// read (an EIO from a FUSE layer is a failed benchmark step, not a number).
import { closeSync, openSync, readSync } from 'node:fs';

const [mode, file] = process.argv.slice(2);
if (!['ttfb', 'seq'].includes(mode) || !file) {
  console.error('usage: stargz-read.mjs ttfb|seq FILE');
  process.exit(2);
}

const buf = Buffer.allocUnsafe(1 << 20);
try {
  const t0 = process.hrtime.bigint();
  const fd = openSync(file, 'r');
  let bytes = 0;
  if (mode === 'ttfb') {
    bytes = readSync(fd, buf, 0, 1, null);
  } else {
    for (let n; (n = readSync(fd, buf, 0, buf.length, null)) > 0; ) bytes += n;
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  closeSync(fd);
  if (bytes === 0) throw new Error(`${file}: empty`);
  console.log(mode === 'ttfb' ? seconds.toFixed(4) : `${seconds.toFixed(4)} ${(bytes / seconds / 1048576).toFixed(1)} ${bytes}`);
} catch (err) {
  console.error(`${mode} ${file}: ${err.message}`);
  process.exit(1);
}
