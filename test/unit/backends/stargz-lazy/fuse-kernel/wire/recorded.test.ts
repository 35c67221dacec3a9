/**
 * Requests recorded from a real kernel (test/fixtures/fuse-kernel/linux-*.json, written by
 * record.mjs): every message decodes, and its fields are the ones the recorder knows the step
 * caused (names, nodes, offsets, sizes, the caller's pid, INIT's version and this kernel's flag
 * bits, the interrupt and resend links between requests). Needs no root: the bytes are on disk.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { FUSE_INT_REQ_BIT, FUSE_UNIQUE_RESEND, INIT, OP } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';
import { decodeRequest, type Request } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/request.js';

interface Expect {
  opcode: string;
  nodeid?: number;
  name?: string;
  fh?: number;
  offset?: number;
  size?: number;
  mask?: number;
  getattrFlags?: number;
  resend?: boolean;
  major?: number;
  minorAtLeast?: number;
  flags?: (keyof typeof INIT)[];
  interruptsRead?: boolean;
  resends?: boolean;
  nodeids?: number[];
}
interface Step {
  step: string;
  did: string;
  pid?: number;
  expect: Expect[];
  covers?: { nodeid: number; size: number };
  messages: string[];
}
interface Recording {
  kernel: string;
  maxRead: number;
  tree: { nodeid: number; name: string; parent: number; size?: number }[];
  steps: Step[];
}

const DIR = new URL('../../../../../fixtures/fuse-kernel/', import.meta.url);
const files = readdirSync(DIR).filter((f) => /^linux-.*\.json$/.test(f));
/** Requests the caller's own system call sends, so the header carries its pid. */
const CALLER_PID = new Set<number>([OP.LOOKUP, OP.GETATTR, OP.READLINK, OP.OPEN, OP.OPENDIR, OP.READDIR, OP.READDIRPLUS, OP.GETXATTR, OP.LISTXATTR, OP.STATFS, OP.ACCESS, OP.FLUSH]);

function decodeAll(step: Step): Request[] {
  return step.messages.map((hex) => {
    const buf = Buffer.from(hex, 'hex');
    return decodeRequest(buf, buf.length);
  });
}

function matches(r: Request, e: Expect): boolean {
  const opcodes = e.opcode.split('|').map((n) => OP[n as keyof typeof OP]);
  if (!opcodes.includes(r.opcode as never)) return false;
  const f = r as unknown as Record<string, unknown>;
  if (e.nodeid !== undefined && r.nodeid !== BigInt(e.nodeid)) return false;
  if (e.fh !== undefined && f.fh !== BigInt(e.fh)) return false;
  for (const k of ['name', 'offset', 'size', 'mask', 'getattrFlags', 'resend', 'major'] as const) {
    if (e[k] !== undefined && f[k] !== e[k]) return false;
  }
  return true;
}

it('has recordings to check', () => {
  expect(files.length).toBeGreaterThan(0);
});

describe.each(files)('recorded kernel requests: %s', (file) => {
  const rec = JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Recording;
  const ids = new Set(rec.tree.map((n) => BigInt(n.nodeid)));
  const names = new Set(rec.tree.map((n) => n.name));

  it.each(rec.steps.map((s) => [s.step, s] as const))('%s: every message decodes, with known nodes and names', (_, step) => {
    expect(step.messages.length).toBeGreaterThan(0);
    for (const r of decodeAll(step)) {
      if (r.opcode !== OP.INIT && r.opcode !== OP.INTERRUPT && r.opcode !== OP.BATCH_FORGET) expect(ids.has(r.nodeid)).toBe(true);
      if (r.opcode === OP.LOOKUP) expect(names.has(r.name)).toBe(true);
      if (r.opcode === OP.READ || r.opcode === OP.READDIR || r.opcode === OP.READDIRPLUS) expect(r.size).toBeLessThanOrEqual(rec.maxRead);
    }
  });

  it.each(rec.steps.map((s) => [s.step, s] as const))('%s: carries what the operation must send', (_, step) => {
    const reqs = decodeAll(step);
    for (const e of step.expect) {
      const found = reqs.filter((r) => matches(r, e));
      expect(found, `${step.did}: ${JSON.stringify(e)}`).not.toHaveLength(0);
      const r = found[found.length - 1]!;
      if (step.pid !== undefined && CALLER_PID.has(r.opcode)) expect(r.pid, `${e.opcode} pid`).toBe(step.pid);
      if (r.opcode === OP.INIT) {
        expect(r.minor).toBeGreaterThanOrEqual(e.minorAtLeast!);
        for (const bit of e.flags!) expect(r.flags & INIT[bit], bit).toBe(INIT[bit]);
      }
      if (e.interruptsRead && r.opcode === OP.INTERRUPT) {
        const read = reqs.find((q) => q.opcode === OP.READ)!;
        expect(r.interrupted).toBe(read.unique);
        expect(r.unique).toBe(read.unique | FUSE_INT_REQ_BIT);
      }
      if (e.resends) {
        const first = reqs.find((q) => q.opcode === OP.READ && !q.resend)!;
        expect(r.unique).toBe(first.unique | FUSE_UNIQUE_RESEND);
      }
      if (e.nodeids !== undefined) {
        const forgets = found.flatMap((q) => (q.opcode === OP.FORGET ? [{ nodeid: q.nodeid, nlookup: q.nlookup }] : q.opcode === OP.BATCH_FORGET ? q.forgets : []));
        expect(forgets.length).toBeGreaterThan(0);
        for (const g of forgets) {
          expect(e.nodeids.map(BigInt)).toContain(g.nodeid);
          expect(g.nlookup).toBeGreaterThanOrEqual(1n);
        }
      }
    }
    if (step.covers) {
      const reads = reqs.filter((r) => r.opcode === OP.READ && r.nodeid === BigInt(step.covers!.nodeid)) as Extract<Request, { opcode: 15 }>[];
      const ranges = reads.map((r) => [r.offset, r.offset + r.size] as const).sort((a, b) => a[0] - b[0]);
      let upTo = 0;
      for (const [from, to] of ranges) {
        expect(from).toBeLessThanOrEqual(upTo);
        upTo = Math.max(upTo, to);
      }
      expect(upTo).toBeGreaterThanOrEqual(step.covers.size);
    }
  });
});
