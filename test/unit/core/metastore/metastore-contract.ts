/**
 * The semantic contract of a `MetaStore` (core/metastore/metastore.ts), run against every
 * implementation (`metastoreContract('LmdbMetaStore', open)`), like containerd's testsuite
 * for snapshotters: the same cases, the same error codes, whatever the storage.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { MetaStore, MetaWriter } from '../../../../core/metastore/metastore.js';
import { nowNs } from '../../../../core/contract/time.js';

export interface StoreFactory {
  /** A new, empty store. The suite closes it (closing twice must be harmless). */
  open(): Promise<MetaStore>;
}

const NO_USAGE = { size: 0, inodes: 0 };

export function metastoreContract(name: string, factory: StoreFactory): void {
  const opened: MetaStore[] = [];
  async function fresh(): Promise<MetaStore> {
    const store = await factory.open();
    opened.push(store);
    return store;
  }
  const w = <T>(store: MetaStore, fn: (tx: MetaWriter) => T): Promise<T> => store.write(fn);

  /** A store with committed chain base <- mid, and active `top` on mid. */
  async function chain(): Promise<MetaStore> {
    const store = await fresh();
    await w(store, (tx) => {
      tx.create('active', 'k-base', '', {});
      tx.commit('k-base', 'base', { size: 10, inodes: 1 }, {});
      tx.create('active', 'k-mid', 'base', {});
      tx.commit('k-mid', 'mid', NO_USAGE, {});
      tx.create('active', 'top', 'mid', { a: '1' });
    });
    return store;
  }

  describe(`${name}: MetaStore contract`, () => {
    // Close what each test opened (closing twice is part of the contract).
    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
    });

    describe('create', () => {
      it('gives increasing ids and the parent chain nearest first', async () => {
        const store = await chain();
        const top = await store.read((tx) => tx.getSnapshot('top'));
        const ids = await store.read((tx) => ({ base: tx.getInfo('base').id, mid: tx.getInfo('mid').id }));
        expect(top.kind).toBe('active');
        expect(top.parentIds).toEqual([ids.mid, ids.base]);
        expect(ids.mid).toBeGreaterThan(ids.base);
        expect(top.id).toBeGreaterThan(ids.mid);
      });

      it('records info with created == updated and the labels given', async () => {
        const store = await fresh();
        const before = nowNs();
        await w(store, (tx) => tx.create('view', 'v', '', { x: 'y' }));
        const after = nowNs();
        const { info, usage } = await store.read((tx) => tx.getInfo('v'));
        expect(info).toMatchObject({ name: 'v', parent: '', kind: 'view', labels: { x: 'y' } });
        expect(info.created).toBe(info.updated);
        expect(info.created > before && info.created < after).toBe(true);
        expect(usage).toEqual(NO_USAGE);
      });

      it('keeps __proto__, constructor and prototype label keys like any other (create, update, commit, list)', async () => {
        const store = await fresh();
        const odd = JSON.parse('{"__proto__":"p","constructor":"c","prototype":"t"}') as Record<string, string>;
        await w(store, (tx) => tx.create('active', 'odd', '', odd));
        const entries = (labels: Record<string, string>) => Object.entries(labels).sort();
        expect(entries((await store.read((tx) => tx.getInfo('odd'))).info.labels)).toEqual([
          ['__proto__', 'p'],
          ['constructor', 'c'],
          ['prototype', 't'],
        ]);
        const next = JSON.parse('{"__proto__":"q"}') as Record<string, string>;
        const updated = await w(store, (tx) => tx.update({ name: 'odd', labels: next }, ['labels.__proto__', 'labels.prototype']));
        expect(entries(updated.labels)).toEqual([
          ['__proto__', 'q'],
          ['constructor', 'c'],
        ]);
        await w(store, (tx) => tx.commit('odd', 'odd-c', NO_USAGE, odd));
        const listed = await store.read((tx) => tx.list());
        expect(entries(listed.find((i) => i.name === 'odd-c')!.labels)).toEqual(entries(odd));
        expect(Object.keys(odd)).toContain('__proto__'); // the test input itself is what it claims
      });

      it('refuses a taken key, including a committed name (one namespace)', async () => {
        const store = await chain();
        await expect(w(store, (tx) => tx.create('active', 'top', '', {}))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
        await expect(w(store, (tx) => tx.create('view', 'base', '', {}))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
      });

      it('refuses a missing parent (NOT_FOUND) and a parent that is not committed (INVALID_ARGUMENT)', async () => {
        const store = await chain();
        await expect(w(store, (tx) => tx.create('active', 'n', 'nope', {}))).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(w(store, (tx) => tx.create('active', 'n', 'top', {}))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      });

      it('validates key, kind and labels', async () => {
        const store = await fresh();
        await expect(w(store, (tx) => tx.create('active', '', '', {}))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(w(store, (tx) => tx.create('committed' as 'active', 'k', '', {}))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(w(store, (tx) => tx.create('active', 'k', '', { a: 1 as unknown as string }))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(w(store, (tx) => tx.create('active', 'k', '', { a: 'x'.repeat(4096) }))).rejects.toThrow(/maximum size/);
        await expect(w(store, (tx) => tx.create('active', 7 as unknown as string, '', {}))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(w(store, (tx) => tx.create('active', 'k', '', { a: 'x'.repeat(4095) }))).resolves.toMatchObject({ kind: 'active' });
      });

      it('takes any string as a key: slashes, spaces, "..", unicode, 64 KiB long', async () => {
        const store = await fresh();
        const keys = ['default/12/extract-1 sha256:abc', '../../etc/passwd', ' ', 'ünïcødé 🚀', 'k'.repeat(65536)];
        await w(store, (tx) => {
          for (const k of keys) tx.create('active', k, '', {});
        });
        const names = await store.read((tx) => tx.list().map((i) => i.name));
        expect(names.sort()).toEqual([...keys].sort());
      });
    });

    describe('commit', () => {
      it('renames key to name keeping the id, replaces labels, records usage, refreshes times', async () => {
        const store = await fresh();
        const s = await w(store, (tx) => tx.create('active', 'k', '', { old: '1' }));
        const created = (await store.read((tx) => tx.getInfo('k'))).info.created;
        const { id } = await w(store, (tx) => tx.commit('k', 'n', { size: 4096, inodes: 2 }, { new: '2' }));
        expect(id).toBe(s.id);
        const got = await store.read((tx) => tx.getInfo('n'));
        expect(got.id).toBe(s.id);
        expect(got.info).toMatchObject({ name: 'n', kind: 'committed', labels: { new: '2' } });
        expect(got.info.created > created).toBe(true);
        expect(got.info.updated).toBe(got.info.created);
        expect(got.usage).toEqual({ size: 4096, inodes: 2 });
        await expect(store.read((tx) => tx.getInfo('k'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
      });

      it('keeps the child link when the committed snapshot had a parent', async () => {
        const store = await chain();
        await w(store, (tx) => tx.commit('top', 'top-c', NO_USAGE, {}));
        await expect(w(store, (tx) => tx.remove('mid'))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
        expect((await store.read((tx) => tx.getInfo('top-c'))).info.parent).toBe('mid');
      });

      it('answers ALREADY_EXISTS for a taken name, NOT_FOUND for a missing key, FAILED_PRECONDITION for a view or committed key', async () => {
        const store = await chain();
        await w(store, (tx) => tx.create('view', 'v', 'mid', {}));
        await expect(w(store, (tx) => tx.commit('top', 'base', NO_USAGE, {}))).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
        await expect(w(store, (tx) => tx.commit('missing', 'x', NO_USAGE, {}))).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(w(store, (tx) => tx.commit('v', 'x', NO_USAGE, {}))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
        await expect(w(store, (tx) => tx.commit('mid', 'x', NO_USAGE, {}))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
        await expect(w(store, (tx) => tx.commit('top', 'x', { size: -1, inodes: 0 }, {}))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(w(store, (tx) => tx.commit('top', 'x', { size: 1.5, inodes: 0 }, {}))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
      });
    });

    describe('remove', () => {
      it('refuses a snapshot with children with a message containing "remove", then removes top-down', async () => {
        const store = await chain();
        const err = await w(store, (tx) => tx.remove('base')).catch((e: unknown) => e);
        expect(err).toMatchObject({ code: 'FAILED_PRECONDITION' });
        expect(String((err as Error).message)).toContain('remove');
        const top = await w(store, (tx) => tx.remove('top'));
        expect(top.kind).toBe('active');
        expect((await w(store, (tx) => tx.remove('mid'))).kind).toBe('committed');
        await w(store, (tx) => tx.remove('base'));
        expect(await store.read((tx) => tx.list())).toEqual([]);
        await expect(w(store, (tx) => tx.remove('base'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
      });

      it('frees the key for reuse with a new id; ids are never reused, not even the last one', async () => {
        const store = await fresh();
        const a = await w(store, (tx) => tx.create('active', 'k', '', {}));
        await w(store, (tx) => tx.remove('k'));
        const b = await w(store, (tx) => tx.create('view', 'k', '', {}));
        expect(b.id).toBeGreaterThan(a.id);
        expect(await store.read((tx) => tx.ids())).toEqual([b.id]);
      });

      it('remove and re-create of one key in one transaction gives a new id', async () => {
        const store = await fresh();
        const a = await w(store, (tx) => tx.create('active', 'k', '', {}));
        const b = await w(store, (tx) => {
          tx.remove('k');
          return tx.create('active', 'k', '', { again: '1' });
        });
        expect(b.id).toBeGreaterThan(a.id);
        expect(await store.read((tx) => tx.ids())).toEqual([b.id]);
        expect((await store.read((tx) => tx.getInfo('k'))).info.labels).toEqual({ again: '1' });
      });
    });

    describe('getSnapshot / update / list', () => {
      it('getSnapshot: NOT_FOUND when missing, FAILED_PRECONDITION for a committed snapshot', async () => {
        const store = await chain();
        await expect(store.read((tx) => tx.getSnapshot('nope'))).rejects.toMatchObject({ code: 'NOT_FOUND' });
        await expect(store.read((tx) => tx.getSnapshot('base'))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      });

      it('update applies the label rules and sets updated, refusing other fields', async () => {
        const store = await chain();
        const before = (await store.read((tx) => tx.getInfo('top'))).info;
        const info = await w(store, (tx) => tx.update({ name: 'top', labels: { b: '2', a: '' } }, ['labels.b', 'labels.a']));
        expect(info.labels).toEqual({ b: '2' });
        expect(info.updated > before.updated).toBe(true);
        expect(info.created).toBe(before.created);
        const all = await w(store, (tx) => tx.update({ name: 'top', labels: { c: '3' } }, []));
        expect(all.labels).toEqual({ c: '3' });
        await expect(w(store, (tx) => tx.update({ name: 'top', labels: {} }, ['parent']))).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
        await expect(w(store, (tx) => tx.update({ name: 'nope', labels: {} }, []))).rejects.toMatchObject({ code: 'NOT_FOUND' });
        expect((await store.read((tx) => tx.getInfo('top'))).info.labels).toEqual({ c: '3' });
      });

      it('list returns copies: changing them or the store later does not affect each other', async () => {
        const store = await chain();
        const list = await store.read((tx) => tx.list());
        expect(list.map((i) => i.name).sort()).toEqual(['base', 'mid', 'top']);
        list[0]!.labels['mutated'] = 'yes';
        await w(store, (tx) => tx.remove('top'));
        expect(list).toHaveLength(3);
        const again = await store.read((tx) => tx.list());
        expect(again.some((i) => 'mutated' in i.labels)).toBe(false);
        expect(again).toHaveLength(2);
      });
    });

    describe('transactions', () => {
      it('discards every change of a write that throws, also after awaiting', async () => {
        const store = await chain();
        await expect(
          w(store, async (tx) => {
            tx.create('active', 'new', 'mid', {});
            tx.remove('top');
            await new Promise((r) => setTimeout(r, 5));
            throw new Error('boom');
          }),
        ).rejects.toThrow('boom');
        const names = (await store.read((tx) => tx.list())).map((i) => i.name).sort();
        expect(names).toEqual(['base', 'mid', 'top']);
        // mid's child count was not bumped by the discarded create: removing top then mid works
        await w(store, (tx) => tx.remove('top'));
        await w(store, (tx) => tx.remove('mid'));
      });

      it('runs writes one at a time and hides uncommitted changes from readers', async () => {
        const store = await fresh();
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const order: string[] = [];
        const first = store.write(async (tx) => {
          tx.create('active', 'a', '', {});
          order.push('first:start');
          await gate;
          order.push('first:end');
        });
        const second = store.write((tx) => {
          order.push('second');
          return tx.getInfo('a').info.name;
        });
        await new Promise((r) => setTimeout(r, 10));
        expect(await store.read((tx) => tx.list())).toEqual([]);
        expect(order).toEqual(['first:start']);
        release();
        await first;
        expect(await second).toBe('a');
        expect(order).toEqual(['first:start', 'first:end', 'second']);
      });

      it('keeps a running reader on the state it started from while writes commit', async () => {
        const store = await chain();
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const reader = store.read(async (tx) => {
          const before = tx.list().map((i) => i.name).sort();
          await gate; // writes commit meanwhile
          return { before, after: tx.list().map((i) => i.name).sort(), top: tx.getInfo('top').info.kind };
        });
        await w(store, (tx) => tx.create('active', 'new', 'mid', {}));
        await w(store, (tx) => tx.commit('top', 'top-c', NO_USAGE, {}));
        release();
        const seen = await reader;
        expect(seen.after).toEqual(seen.before);
        expect(seen.before).toEqual(['base', 'mid', 'top']);
        expect(seen.top).toBe('active');
        // a reader started now sees both writes, and later writes apply on top of them
        expect((await store.read((tx) => tx.list().map((i) => i.name))).sort()).toEqual(['base', 'mid', 'new', 'top-c']);
        await w(store, (tx) => tx.remove('new'));
        expect((await store.read((tx) => tx.list().map((i) => i.name))).sort()).toEqual(['base', 'mid', 'top-c']);
        expect((await store.read((tx) => tx.getInfo('mid'))).info.kind).toBe('committed');
      });

      it('sees its own writes inside the transaction: getInfo, getSnapshot, list, ids', async () => {
        const store = await fresh();
        const seen = await w(store, (tx) => {
          tx.create('active', 'a', '', { l: 'v' });
          tx.commit('a', 'b', NO_USAGE, {});
          const s = tx.create('active', 'c', 'b', {});
          return {
            list: tx.list().map((i) => i.name).sort(),
            s,
            info: tx.getInfo('c').info,
            ref: tx.getSnapshot('c'),
            ids: tx.ids().sort((x, y) => x - y),
          };
        });
        expect(seen.list).toEqual(['b', 'c']);
        expect(seen.s.parentIds).toHaveLength(1);
        expect(seen.ref).toEqual(seen.s);
        expect(seen.info.parent).toBe('b');
        expect(seen.ids).toEqual([seen.s.parentIds[0], seen.s.id]);
      });

      it('refuses writes in a read transaction, use after the callback, and calls after close', async () => {
        const store = await fresh();
        await expect(store.read((tx) => (tx as MetaWriter).create('active', 'a', '', {}))).rejects.toThrow(/read transaction/);
        let leaked!: MetaWriter;
        await w(store, (tx) => {
          leaked = tx;
        });
        expect(() => leaked.create('active', 'a', '', {})).toThrow(/after it finished/);
        await store.close();
        await store.close();
        await expect(store.read((tx) => tx.list())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
        await expect(w(store, (tx) => tx.list())).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      });

      it('close waits for the running write, which commits', async () => {
        const store = await fresh();
        let release!: () => void;
        const gate = new Promise<void>((r) => (release = r));
        const running = store.write(async (tx) => {
          tx.create('active', 'a', '', {});
          await gate;
          return 'written';
        });
        await new Promise((r) => setTimeout(r, 5));
        let closed = false;
        const closing = store.close().then(() => (closed = true));
        await new Promise((r) => setTimeout(r, 10));
        expect(closed).toBe(false);
        release();
        expect(await running).toBe('written');
        await closing;
        expect(closed).toBe(true);
      });
    });
  });
}
