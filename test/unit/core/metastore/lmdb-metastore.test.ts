/**
 * What only the LMDB store promises: everything survives close and reopen exactly, a failed
 * write leaves nothing on disk, ids are never reused across restarts, the directory is
 * private, and what is read back is checked (corrupt or newer data -> a clear error naming
 * the key). Crash safety under SIGKILL: lmdb-metastore.crash.test.ts.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { open } from 'lmdb';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LmdbMetaStore } from '../../../../core/metastore/lmdb-metastore.js';
import type { MetaStore } from '../../../../core/metastore/metastore.js';

let tmp: string;
let n = 0;
const opened: MetaStore[] = [];

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-lmdb-'));
});
afterEach(async () => {
  for (const s of opened.splice(0)) await s.close();
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

function newDir(): string {
  return join(tmp, `store-${++n}`);
}

async function openStore(dir: string): Promise<LmdbMetaStore> {
  const store = await LmdbMetaStore.open(dir);
  opened.push(store);
  return store;
}

/** Write raw entries into a store directory (the store must be closed). */
async function poke(dir: string, table: 'meta' | 'snapshots', entries: Array<[string | number, string | null]>): Promise<void> {
  const env = open({ path: dir, noSubdir: false, maxDbs: 4, overlappingSync: false });
  try {
    const db = env.openDB<string, string | number>({ name: table, encoding: 'string' });
    env.transactionSync(() => {
      for (const [k, v] of entries) {
        if (v === null) db.removeSync(k);
        else db.putSync(k, v);
      }
    });
  } finally {
    await env.close();
  }
}

/** A closed store holding committed base <- mid, active top on mid, view v on base. */
async function populated(dir: string): Promise<void> {
  const store = await LmdbMetaStore.open(dir);
  await store.write((tx) => {
    tx.create('active', 'k-base', '', { 'containerd.io/snapshot.ref': 'sha256:1' });
    tx.commit('k-base', 'base', { size: 12345, inodes: 6 }, { 'ünï': 'cødé 🚀' });
    tx.create('active', 'k-mid', 'base', {});
    tx.commit('k-mid', 'mid', { size: 1, inodes: 1 }, {});
    tx.create('active', 'default/12/top sha256:x', 'mid', { a: '1' });
    tx.create('view', 'v', 'base', {});
  });
  await store.close();
}

describe('LmdbMetaStore persistence', () => {
  it('keeps __proto__, constructor and prototype label keys across close and reopen', async () => {
    const dir = newDir();
    const odd = JSON.parse('{"__proto__":"p","constructor":"c","prototype":"t","x":"y"}') as Record<string, string>;
    const first = await LmdbMetaStore.open(dir);
    await first.write((tx) => tx.create('active', 'odd', '', odd));
    await first.close();
    const second = await openStore(dir);
    const { info } = await second.read((tx) => tx.getInfo('odd'));
    expect(Object.entries(info.labels).sort()).toEqual(Object.entries(odd).sort());
    expect(Object.entries(info.labels)).toHaveLength(4);
  });

  it('keeps everything across close and reopen: kinds, parents, labels, times to the ns, usage, ids, counter', async () => {
    const dir = newDir();
    const first = await LmdbMetaStore.open(dir);
    await first.write((tx) => {
      tx.create('active', 'k-base', '', {});
      tx.commit('k-base', 'base', { size: 12345, inodes: 6 }, { 'ünï': 'cødé 🚀', empty: '' });
      tx.create('active', 'default/12/top sha256:x', 'base', { a: '1' });
      tx.create('view', 'v', 'base', {});
      tx.create('active', 'gone', '', {});
    });
    await first.write((tx) => tx.update({ name: 'v', labels: { u: 'x' } }, ['labels.u']));
    const removed = await first.write((tx) => tx.remove('gone'));
    const dump = (s: MetaStore) =>
      s.read((tx) => ({
        infos: tx.list().sort((a, b) => a.name.localeCompare(b.name)).map((i) => ({ ...i, stored: tx.getInfo(i.name) })),
        ids: tx.ids().sort((a, b) => a - b),
        top: tx.getSnapshot('default/12/top sha256:x'),
      }));
    const before = await dump(first);
    await first.close();

    const second = await openStore(dir);
    const after = await dump(second);
    expect(after).toEqual(before);
    expect(typeof after.infos[0]!.created).toBe('bigint');
    expect(after.infos.find((i) => i.name === 'base')!.stored.usage).toEqual({ size: 12345, inodes: 6 });
    // the removed id (the highest one) is not handed out again after the restart
    const next = await second.write((tx) => tx.create('active', 'gone', '', {}));
    expect(next.id).toBeGreaterThan(removed.id);
    // child counts are rebuilt: base still has children
    await expect(second.write((tx) => tx.remove('base'))).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
  });

  it('a write that throws leaves nothing on disk', async () => {
    const dir = newDir();
    await populated(dir);
    const store = await LmdbMetaStore.open(dir);
    const before = await store.read((tx) => tx.list());
    await expect(
      store.write(async (tx) => {
        tx.create('active', 'half', 'mid', {});
        tx.remove('v');
        await new Promise((r) => setTimeout(r, 5));
        throw new Error('rename failed');
      }),
    ).rejects.toThrow('rename failed');
    await store.close();
    const again = await openStore(dir);
    expect(await again.read((tx) => tx.list())).toEqual(before);
    // the id counter did not move either: the next id is the one the failed write had taken
    const ids = await again.read((tx) => tx.ids());
    const next = await again.write((tx) => tx.create('active', 'x', '', {}));
    expect(next.id).toBe(Math.max(...ids) + 1);
  });

  it('a commit in the same transaction as its create is stored under the committed name only', async () => {
    const dir = newDir();
    const store = await LmdbMetaStore.open(dir);
    const { id } = await store.write((tx) => {
      tx.create('active', 'k', '', {});
      return tx.commit('k', 'n', { size: 1, inodes: 1 }, {});
    });
    await store.close();
    const again = await openStore(dir);
    expect(await again.read((tx) => tx.list().map((i) => i.name))).toEqual(['n']);
    expect(await again.read((tx) => tx.getInfo('n').id)).toBe(id);
  });

  it('creates the directory with mode 0700, and reopens after close', async () => {
    const dir = join(newDir(), 'nested.d', 'meta');
    const store = await LmdbMetaStore.open(dir);
    expect((await stat(dir)).mode & 0o777).toBe(0o700);
    expect(store.dir).toBe(dir);
    await store.close();
    await openStore(dir);
  });

  it('refuses a second open of the same directory in one process, and a bad path', async () => {
    const dir = newDir();
    await openStore(dir);
    await expect(LmdbMetaStore.open(dir)).rejects.toThrow(/already open in this process/);
    await expect(LmdbMetaStore.open(`${dir}/../${dir.split('/').pop()}`)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
    await expect(LmdbMetaStore.open('')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
  });
});

describe('LmdbMetaStore when the disk is full', () => {
  const isRoot = process.getuid?.() === 0;
  it.skipIf(!isRoot)('fails the write with nothing applied, in memory and on disk (a 512 KiB tmpfs)', async () => {
    const mnt = join(tmp, 'small-fs');
    await mkdir(mnt);
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=512k,mode=0700', 'tmpfs', mnt]);
    try {
      const dir = join(mnt, 'meta');
      const store = await LmdbMetaStore.open(dir);
      let err: unknown;
      let i = 0;
      for (; i < 200 && err === undefined; i++) {
        err = await store
          .write((tx) => {
            for (let j = 0; j < 5; j++) tx.create('active', `k${i}-${j}`, '', { big: 'x'.repeat(4000) });
          })
          .then(() => undefined, (e: unknown) => e);
      }
      expect((err as Error).message).toMatch(new RegExp(`snapshot metadata store ${dir}: commit failed, nothing written: `));
      const kept = (i - 1) * 5;
      expect(await store.read((tx) => tx.list().length)).toBe(kept);
      await store.close();
      const again = await LmdbMetaStore.open(dir);
      expect(await again.read((tx) => tx.list().length)).toBe(kept);
      await again.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('LmdbMetaStore checks what it reads back', () => {
  it('refuses a database of a newer schema version with a clear message', async () => {
    const dir = newDir();
    await populated(dir);
    await poke(dir, 'meta', [['version', '2']]);
    const err = await LmdbMetaStore.open(dir).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect((err as Error).message).toMatch(/schema version 2 was written by a newer snaphost; this one understands version 1/);
    // the refusal released the directory: fixing the version makes it open
    await poke(dir, 'meta', [['version', '1']]);
    await openStore(dir);
  });

  it.each<[string, 'meta' | 'snapshots', Array<[string | number, string | null]>, RegExp]>([
    ['a record that is not JSON', 'snapshots', [[2, '{oops']], /snapshot record 2: value is not JSON/],
    ['a record with a bad kind', 'snapshots', [[2, JSON.stringify({ name: 'mid', kind: 'frozen', parent: 'base', labels: {}, created: '1', updated: '1', size: 0, inodes: 0 })]], /snapshot record 2 \("mid"\): kind "frozen"/],
    ['a record with a bad time', 'snapshots', [[1, JSON.stringify({ name: 'base', kind: 'committed', parent: '', labels: {}, created: 'soon', updated: '1', size: 0, inodes: 0 })]], /snapshot record 1 \("base"\): created is not a nanosecond timestamp/],
    ['a record with a non-string label', 'snapshots', [[1, JSON.stringify({ name: 'base', kind: 'committed', parent: '', labels: { a: 1 }, created: '1', updated: '1', size: 0, inodes: 0 })]], /snapshot record 1 \("base"\): label "a" is not a string/],
    ['a record with negative usage', 'snapshots', [[1, JSON.stringify({ name: 'base', kind: 'committed', parent: '', labels: {}, created: '1', updated: '1', size: -1, inodes: 0 })]], /snapshot record 1 \("base"\): usage/],
    ['a record under a key that is not an id', 'snapshots', [['base', '{}']], /snapshot record key "base" is not a positive integer id/],
    ['a dangling parent', 'snapshots', [[2, null]], /\("default\/12\/top sha256:x"\): parent "mid" does not exist/],
    ['a parent that is not committed', 'snapshots', [[1, JSON.stringify({ name: 'base', kind: 'active', parent: '', labels: {}, created: '1', updated: '1', size: 0, inodes: 0 })]], /parent "base" is active, not committed/],
    ['two records with one name', 'snapshots', [[3, JSON.stringify({ name: 'v', kind: 'view', parent: '', labels: {}, created: '1', updated: '1', size: 0, inodes: 0 })]], /snapshot records 3 and 4 both name "v"/],
    ['an id at or above the counter', 'meta', [['nextId', '2']], /snapshot record \d+ \("[^"]+"\): id is not below "nextId" \(2\)/],
    ['a bad counter', 'meta', [['nextId', 'many']], /key "nextId" is "many", not a positive id/],
    ['a missing version', 'meta', [['version', null]], /key "version" is missing but the database holds data/],
  ])('%s -> FAILED_PRECONDITION naming the key', async (_what, table, entries, message) => {
    const dir = newDir();
    await populated(dir);
    await poke(dir, table, entries);
    const err = await LmdbMetaStore.open(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(Error);
    expect(err).toMatchObject({ code: 'FAILED_PRECONDITION' });
    expect((err as Error).message).toContain(dir);
    expect((err as Error).message).toMatch(message);
  });
});

describe('LmdbMetaStore at 10,000 snapshots', () => {
  it('opens and lists quickly (timings logged, not asserted)', async () => {
    const dir = newDir();
    const store = await LmdbMetaStore.open(dir);
    const t0 = performance.now();
    let parent = '';
    for (let batch = 0; batch < 100; batch++) {
      await store.write((tx) => {
        for (let i = 0; i < 100; i++) {
          const name = `default/${batch * 100 + i}/sha256:${String(batch * 100 + i).padStart(64, '0')}`;
          tx.create('active', `extract-${name}`, parent, { 'containerd.io/snapshot.ref': name, 'containerd.io/gc.root': 'x' });
          tx.commit(`extract-${name}`, name, { size: 4096, inodes: 3 }, { 'containerd.io/snapshot.ref': name });
          // a chain of 100, then a new base: realistic depths, many children
          parent = i === 99 ? '' : name;
        }
      });
    }
    const writeMs = performance.now() - t0;
    const one = performance.now();
    await store.write((tx) => tx.create('active', 'one-more', '', {}));
    const oneWriteMs = performance.now() - one;
    await store.close();

    const t1 = performance.now();
    const again = await openStore(dir);
    const openMs = performance.now() - t1;
    const t2 = performance.now();
    const all = await again.read((tx) => tx.list());
    const listMs = performance.now() - t2;
    expect(all).toHaveLength(10_001);
    expect(all.filter((i) => i.kind === 'committed')).toHaveLength(10_000);
    console.log(
      `LmdbMetaStore 10,000 committed snapshots: write (100 tx) ${writeMs.toFixed(0)} ms, one write at 10k ${oneWriteMs.toFixed(2)} ms, open ${openMs.toFixed(1)} ms, list ${listMs.toFixed(1)} ms`,
    );
  }, 60_000);
});
