/**
 * PassthroughOpens with a recording device (no kernel): which opens get a backing id, the
 * kernel's per-inode rules (an inode open cached stays plain, an inode passed through stays so
 * until its last release), one backing id per backing file counted and closed at the last
 * release, the cap, and the fallbacks (not agreed, refused: one warning; a file changed on disk).
 */
import { constants, fstatSync, openSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { CompleteFile } from '../../../../../../backends/stargz-lazy/cache/complete-files.js';
import type { LayerNode } from '../../../../../../backends/stargz-lazy/estargz/layer-node.js';
import type { OpenAnswer, OpenFile } from '../../../../../../backends/stargz-lazy/fuse-kernel/open-file.js';
import { PassthroughOpens } from '../../../../../../backends/stargz-lazy/fuse-kernel/passthrough/passthrough-opens.js';
import type { PassthroughState } from '../../../../../../backends/stargz-lazy/fuse-kernel/passthrough/passthrough-state.js';
import { passthroughStateSchema } from '../../../../../../backends/stargz-lazy/fuse-kernel/passthrough/passthrough-state.js';
import { FOPEN, INIT } from '../../../../../../backends/stargz-lazy/fuse-kernel/wire/opcodes.js';
import { captureLog } from '../../layer/layer-env.js';

const EPERM = 1;
const EMFILE = 24;
const plain: OpenFile = (node, flags) => ((flags & 3) !== 0 ? -30 : node.ino === 99 ? -21 : { fh: 0n, flags: FOPEN.KEEP_CACHE, backingId: 0 });

function setup(
  o: { complete?: Set<number>; backingOpen?: () => number; maxBackingIds?: number; changed?: Set<number>; sameKey?: boolean; resumed?: PassthroughState } = {},
) {
  const calls: string[] = [];
  const fds: number[] = [];
  let nextId = 1;
  const { log, lines } = captureLog();
  const complete = o.complete ?? new Set([2, 3, 4]);
  let active = 0;
  let changes = 0;
  const opens = new PassthroughOpens({
    device: {
      backingOpen: (fd, backingFd) => {
        calls.push(`open ${fd} ${backingFd > 0}`);
        return o.backingOpen ? o.backingOpen() : nextId++;
      },
      backingClose: (fd, id) => (calls.push(`close ${fd} ${id}`), 0),
    },
    fd: 7,
    plain,
    nodeOf: (ino) => ({ ino, path: `f${ino}`, type: 'reg' }) as unknown as LayerNode,
    completeFile: (node): CompleteFile | undefined =>
      complete.has(node.ino) ? { key: o.sameKey ? 'file:same' : `k${node.ino}`, path: `/c/${node.ino}`, identity: 'i', size: 10 } : undefined,
    openBacking: (file) => {
      if (o.changed?.has(Number(file.path.slice(3)))) return { reason: 'it changed since it was verified', changed: true };
      const fd = openSync('/dev/null', 'r');
      fds.push(fd);
      return { fd };
    },
    onActive: () => active++,
    onChange: () => changes++,
    resumed: o.resumed,
    log,
    maxBackingIds: o.maxBackingIds,
  });
  return { opens, calls, lines, fds, active: () => active, changes: () => changes };
}

const ref = (ino: number) => ({ ino, whiteout: false });
const open = (opens: PassthroughOpens, ino: number) => opens.open(ref(ino), 0) as OpenAnswer;

describe('PassthroughOpens', () => {
  it('before INIT agreed passthrough, and when the kernel did not offer it, every open is plain; the latter is said once', () => {
    const t = setup();
    expect(open(t.opens, 2)).toMatchObject({ flags: FOPEN.KEEP_CACHE, backingId: 0 });
    t.opens.negotiated(INIT.ASYNC_READ);
    expect(open(t.opens, 3)).toMatchObject({ flags: FOPEN.KEEP_CACHE, backingId: 0 });
    expect(t.calls).toEqual([]);
    expect(t.lines.filter((l) => l.msg.includes('passthrough off'))).toHaveLength(1);
    expect(t.active()).toBe(0);
  });

  it('a complete file is opened with a backing id and FOPEN_PASSTHROUGH; each open has its own fh; the id closes at the last release', () => {
    const t = setup();
    t.opens.negotiated(INIT.PASSTHROUGH);
    expect(t.active()).toBe(1);
    const a = open(t.opens, 2);
    const b = open(t.opens, 2);
    expect(a).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: 1 });
    expect(b).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: 1 });
    expect(a.fh).not.toBe(b.fh);
    expect(t.calls).toEqual(['open 7 true']); // one id for both opens
    expect(() => fstatSync(t.fds[0]!)).toThrow(/EBADF/); // our descriptor closed once registered
    t.opens.release(a.fh);
    expect(t.calls).toHaveLength(1);
    t.opens.release(b.fh);
    expect(t.calls).toEqual(['open 7 true', 'close 7 1']);
    expect(t.opens.counters).toMatchObject({ passthroughOpens: 2, backingIdsOpen: 0, openFiles: 0 });
    t.opens.release(a.fh); // a RELEASE repeated or unknown changes nothing
    expect(t.calls).toHaveLength(2);
  });

  it('an O_DIRECT open of a complete file is plain (the backing file system would refuse unaligned buffers); a later buffered open passes through', () => {
    const t = setup();
    t.opens.negotiated(INIT.PASSTHROUGH);
    const direct = t.opens.open(ref(2), constants.O_DIRECT) as OpenAnswer;
    expect(direct.flags).toBe(FOPEN.KEEP_CACHE);
    expect(t.calls).toEqual([]);
    t.opens.release(direct.fh);
    expect(open(t.opens, 2)).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: 1 });
  });

  it('an inode open in cached mode stays plain until its last release, even once complete (the kernel would refuse: ETXTBSY)', () => {
    const complete = new Set<number>();
    const t = setup({ complete });
    t.opens.negotiated(INIT.PASSTHROUGH);
    const first = open(t.opens, 5);
    complete.add(5);
    const second = open(t.opens, 5);
    expect(second).toMatchObject({ flags: FOPEN.KEEP_CACHE, backingId: 0 });
    t.opens.release(first.fh);
    t.opens.release(second.fh);
    expect(open(t.opens, 5)).toMatchObject({ flags: FOPEN.PASSTHROUGH });
  });

  it('identical files share one backing id across inodes; it closes when the last inode using it is released', () => {
    const t = setup({ sameKey: true });
    t.opens.negotiated(INIT.PASSTHROUGH);
    const a = open(t.opens, 2);
    const b = open(t.opens, 3);
    expect(a.backingId).toBe(b.backingId);
    t.opens.release(a.fh);
    expect(t.calls).toEqual(['open 7 true']);
    t.opens.release(b.fh);
    expect(t.calls).toEqual(['open 7 true', 'close 7 1']);
  });

  it('refused (EPERM): this open and every later new one are plain, said once; an inode already passed through stays so', () => {
    let answer = 1;
    const t = setup({ backingOpen: () => answer });
    t.opens.negotiated(INIT.PASSTHROUGH);
    const passed = open(t.opens, 2);
    answer = -EPERM;
    expect(open(t.opens, 3)).toMatchObject({ flags: FOPEN.KEEP_CACHE, backingId: 0 });
    expect(open(t.opens, 4)).toMatchObject({ flags: FOPEN.KEEP_CACHE, backingId: 0 });
    expect(t.calls).toHaveLength(2); // the second new file was not even tried
    expect(open(t.opens, 2)).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: passed.backingId });
    expect(t.lines.filter((l) => l.msg.includes('passthrough off'))).toHaveLength(1);
    expect(t.lines.find((l) => l.msg.includes('passthrough off'))).toMatchObject({ level: 40, errno: EPERM });
  });

  it('a transient failure (EMFILE) only makes that open plain', () => {
    let answer = -EMFILE;
    const t = setup({ backingOpen: () => answer });
    t.opens.negotiated(INIT.PASSTHROUGH);
    expect(open(t.opens, 2)).toMatchObject({ backingId: 0 });
    answer = 9;
    expect(open(t.opens, 3)).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: 9 });
    expect(t.lines.filter((l) => l.msg.includes('passthrough off'))).toHaveLength(0);
  });

  it('a file changed since it was verified is not handed to the kernel; over maxBackingIds, new files are plain', () => {
    const t = setup({ changed: new Set([3]), maxBackingIds: 1 });
    t.opens.negotiated(INIT.PASSTHROUGH);
    expect(open(t.opens, 3)).toMatchObject({ backingId: 0 });
    expect(open(t.opens, 2)).toMatchObject({ flags: FOPEN.PASSTHROUGH });
    expect(open(t.opens, 4)).toMatchObject({ backingId: 0 }); // the one id allowed is held by inode 2
    expect(t.calls).toEqual(['open 7 true']);
  });

  it('errors of the plain checks pass through (a writing open, a directory), and the end of the connection forgets everything', () => {
    const t = setup();
    t.opens.negotiated(INIT.PASSTHROUGH);
    expect(t.opens.open(ref(2), 1)).toBe(-30);
    expect(t.opens.open(ref(99), 0)).toBe(-21);
    open(t.opens, 2);
    t.opens.end();
    expect(t.opens.counters).toMatchObject({ openFiles: 0, backingIdsOpen: 0 });
    expect(open(t.opens, 2)).toMatchObject({ backingId: 0 }); // ended: nothing more passes through
  });

  it('state() names the inodes in passthrough and the ids held; a change of them is signalled, a second open of the same inode is not', () => {
    const t = setup();
    t.opens.negotiated(INIT.PASSTHROUGH);
    const a = open(t.opens, 2);
    open(t.opens, 2);
    open(t.opens, 7); // not complete: plain, not in the state
    expect(t.changes()).toBe(1);
    expect(passthroughStateSchema.parse(t.opens.state())).toEqual({ active: true, inodes: [[2, 1]], backings: [['k2', 1]] });
    t.opens.release(a.fh);
    expect(t.changes()).toBe(1);
  });

  it('taken over: the inodes the previous process passed through stay so with their ids, never closed; new files reuse held ids', () => {
    const t = setup({ resumed: { active: true, inodes: [[2, 5], [9, 6]], backings: [['k2', 5], ['k3', 6]] } });
    const a = open(t.opens, 2);
    expect(a).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: 5 });
    t.opens.release(a.fh);
    expect(open(t.opens, 2)).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: 5 }); // unknown older opens may still hold it
    expect(open(t.opens, 9)).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: 6 }); // no longer complete here: still passed through
    expect(open(t.opens, 3)).toMatchObject({ flags: FOPEN.PASSTHROUGH, backingId: 6 }); // the same file as inode 9's id
    t.opens.release(999n); // a RELEASE of an open of the previous process
    expect(t.calls).toEqual([]); // no BACKING_OPEN, no BACKING_CLOSE
  });

  it('taken over with passthrough off now: those inodes still pass through, new files are plain', () => {
    const t = setup({ resumed: { active: false, inodes: [[2, 5]], backings: [['k2', 5]] } });
    expect(open(t.opens, 2)).toMatchObject({ backingId: 5 });
    expect(open(t.opens, 4)).toMatchObject({ backingId: 0 });
  });
});
