import fc from 'fast-check';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { CredentialStore } from '../../../../core/cri-proxy/credential-store.js';
import type { RegistryCredentialsChange } from '../../../../core/contract/registry-credentials.js';

const log = pino({ level: 'silent' });
const stores: CredentialStore[] = [];
afterEach(() => stores.splice(0).forEach((s) => s.close()));

function store(o: { ttlMs?: number; maxRepositories?: number; now?: () => number } = {}) {
  const s = new CredentialStore({ ttlMs: o.ttlMs ?? 60_000, maxRepositories: o.maxRepositories ?? 10, log, ...(o.now ? { now: o.now } : {}) });
  stores.push(s);
  const changes: RegistryCredentialsChange[] = [];
  s.subscribe((c) => changes.push(c));
  return { s, changes };
}
const repo = (repository: string) => ({ host: 'r.io', repository });
const pw = (password: string) => ({ kind: 'password' as const, username: 'u', password });

describe('CredentialStore', () => {
  it('sets, renews without a change, rotates with one', () => {
    let t = 1000;
    const { s, changes } = store({ now: () => t });
    s.set(repo('a'), pw('one'));
    t = 2000;
    s.set(repo('a'), pw('one'));
    expect(changes.map((c) => c.type)).toEqual(['set']);
    expect(s.current()[0]!.updatedAt).toBe(2000);
    s.set(repo('a'), pw('two'));
    expect(changes.map((c) => c.type)).toEqual(['set', 'set']);
    expect(s.current()).toMatchObject([{ host: 'r.io', repository: 'a', auth: { password: 'two' } }]);
  });

  it('forgets, unless renewed after the removal looked', () => {
    let t = 1000;
    const { s, changes } = store({ now: () => t });
    s.set(repo('a'), pw('x'));
    t = 3000;
    expect(s.forget(repo('a'), 'test', 2000)).toBe(true);
    s.set(repo('b'), pw('y'));
    expect(s.forget(repo('b'), 'test', 2000)).toBe(false);
    expect(changes).toEqual([expect.objectContaining({ type: 'set' }), { type: 'forget', host: 'r.io', repository: 'a' }, expect.objectContaining({ type: 'set' })]);
  });

  it('revert puts back the previous credentials, forgets new ones, and leaves a later pull alone', () => {
    const { s, changes } = store();
    s.set(repo('a'), pw('old'));
    const before = s.get(repo('a'));
    s.set(repo('a'), pw('new'));
    s.revert(repo('a'), s.get(repo('a'))!, before);
    expect(s.current()).toMatchObject([{ auth: { password: 'old' } }]);
    s.set(repo('b'), pw('x'));
    s.revert(repo('b'), s.get(repo('b'))!, undefined);
    expect(s.repositories()).toEqual(['r.io/a']);
    s.set(repo('a'), pw('mine'));
    const mine = s.get(repo('a'))!;
    s.set(repo('a'), pw('later'));
    s.revert(repo('a'), mine, before);
    expect(s.current()).toMatchObject([{ auth: { password: 'later' } }]);
    expect(changes.map((c) => c.type)).toEqual(['set', 'set', 'set', 'set', 'forget', 'set', 'set']);
  });

  it('keepOnly forgets the unreferenced repositories', () => {
    const { s } = store();
    s.set(repo('a'), pw('x'));
    s.set(repo('b'), pw('x'));
    expect(s.keepOnly(new Set(['r.io/b']), 'test', Date.now() + 1)).toEqual(['r.io/a']);
    expect(s.repositories()).toEqual(['r.io/b']);
  });

  it('forgets what was not renewed for the TTL', () => {
    let t = 0;
    const { s, changes } = store({ ttlMs: 1000, now: () => t });
    s.set(repo('a'), pw('x'));
    t = 900;
    s.set(repo('b'), pw('x'));
    t = 1500;
    expect(s.repositories()).toEqual(['r.io/b']);
    expect(changes.at(-1)).toEqual({ type: 'forget', host: 'r.io', repository: 'a' });
  });

  it('holds at most maxRepositories, dropping the least recently renewed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 8 }), fc.array(fc.integer({ min: 0, max: 20 }), { maxLength: 60 }), (max, sets) => {
        const { s } = store({ maxRepositories: max });
        const recent: number[] = [];
        for (const n of sets) {
          s.set(repo(`r${n}`), pw('x'));
          const i = recent.indexOf(n);
          if (i !== -1) recent.splice(i, 1);
          recent.push(n);
          expect(s.size).toBeLessThanOrEqual(max);
        }
        expect(s.repositories()).toEqual(recent.slice(-max).map((n) => `r.io/r${n}`));
        s.close();
      }),
    );
  });

  it('a throwing listener does not stop the others', () => {
    const { s, changes } = store();
    s.subscribe(() => {
      throw new Error('boom');
    });
    const later: string[] = [];
    s.subscribe((c) => later.push(c.type));
    s.set(repo('a'), pw('x'));
    expect(changes).toHaveLength(1);
    expect(later).toEqual(['set']);
  });

  it('current() is a copy', () => {
    const { s } = store();
    s.set(repo('a'), pw('x'));
    (s.current()[0]!.auth as { password: string }).password = 'changed';
    expect(s.current()[0]!.auth).toEqual(pw('x'));
  });
});
