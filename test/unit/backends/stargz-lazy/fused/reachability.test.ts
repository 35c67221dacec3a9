/** The memoized reachability of blobs: shared probes, expiry, a dead host answering for all its blobs. */
import { describe, expect, it } from 'vitest';
import { Reachability } from '../../../../../backends/stargz-lazy/fused/reachability.js';
import type { ProbeResult } from '../../../../../backends/stargz-lazy/registry/probe-blob.js';

const never = new AbortController().signal;
const a = { host: 'r:5000', key: 'r:5000/app@sha256:a' };
const b = { host: 'r:5000', key: 'r:5000/app@sha256:b' };

function clock() {
  let t = 1_000;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('Reachability', () => {
  it('concurrent checks of one blob share one probe; the answer is reused until it expires', async () => {
    const c = clock();
    const r = new Reachability({ ttlMs: 3_000, now: c.now });
    let sent = 0;
    const probe = async (): Promise<ProbeResult> => {
      sent++;
      return { reachable: true };
    };
    const answers = await Promise.all([r.check(a, probe, never), r.check(a, probe, never), r.check(a, probe, never)]);
    expect(answers).toEqual([{ reachable: true }, { reachable: true }, { reachable: true }]);
    expect(sent).toBe(1);
    c.advance(2_999);
    await r.check(a, probe, never);
    expect(sent).toBe(1);
    c.advance(1);
    await r.check(a, probe, never);
    expect(sent).toBe(2);
    expect(r.probes).toBe(2);
  });

  it('a blob the registry just served counts as reachable until the answer expires, and clears its host being down', async () => {
    const c = clock();
    const r = new Reachability({ ttlMs: 3_000, now: c.now });
    let sent = 0;
    const down = async (): Promise<ProbeResult> => {
      sent++;
      return { reachable: false, reason: 'connect ECONNREFUSED', answered: false };
    };
    expect(await r.check(b, down, never)).toMatchObject({ reachable: false });
    r.noteReachable(a);
    expect(await r.check(a, down, never)).toEqual({ reachable: true });
    expect(sent).toBe(1);
    c.advance(3_000);
    expect(await r.check(a, down, never)).toMatchObject({ reachable: false });
    expect(sent).toBe(2);
  });

  it('a host that did not answer is down for every blob until the answer expires; nothing is sticky', async () => {
    const c = clock();
    const r = new Reachability({ ttlMs: 3_000, now: c.now });
    let up = false;
    let sent = 0;
    const probe = async (): Promise<ProbeResult> => {
      sent++;
      return up ? { reachable: true } : { reachable: false, reason: 'registry r:5000 unreachable: ECONNREFUSED', answered: false };
    };
    expect(await r.check(a, probe, never)).toMatchObject({ reachable: false });
    expect(await r.check(b, probe, never)).toMatchObject({ reachable: false, reason: 'registry r:5000 unreachable: ECONNREFUSED' });
    expect(sent).toBe(1);
    up = true;
    c.advance(3_000);
    expect(await r.check(b, probe, never)).toEqual({ reachable: true });
    expect(sent).toBe(2);
  });

  it('a host that answered (HTTP 404 for one blob) is not down for its other blobs', async () => {
    const r = new Reachability({ ttlMs: 3_000 });
    const probe = async (): Promise<ProbeResult> => ({ reachable: false, reason: 'registry r:5000 answered HTTP 404', answered: true });
    await r.check(a, probe, never);
    let sentForB = 0;
    expect(
      await r.check(
        b,
        async () => {
          sentForB++;
          return { reachable: true };
        },
        never,
      ),
    ).toEqual({ reachable: true });
    expect(sentForB).toBe(1);
  });

  it("a caller's abort ends its wait, not the shared probe", async () => {
    const r = new Reachability({ ttlMs: 3_000 });
    let finish!: (v: ProbeResult) => void;
    const probe = () => new Promise<ProbeResult>((resolve) => (finish = resolve));
    const ac = new AbortController();
    const first = r.check(a, probe, ac.signal);
    const second = r.check(a, probe, never);
    ac.abort(new Error('caller gone'));
    await expect(first).rejects.toThrow('caller gone');
    finish({ reachable: true });
    expect(await second).toEqual({ reachable: true });
  });
});
