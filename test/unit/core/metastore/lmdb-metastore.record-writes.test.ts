/** Which LMDB puts and deletes one write transaction turns into (core/metastore/lmdb/persist-changes.ts). */
import { describe, expect, it } from 'vitest';
import { recordWrites } from '../../../../core/metastore/lmdb/persist-changes.js';
import { StagedTx } from '../../../../core/metastore/metastore-tx.js';
import { emptyState, type MetaState } from '../../../../core/metastore/snapshot-record.js';

const NO_USAGE = { size: 0, inodes: 0 };

/** The state after running `fn` on `base`, and the writes it became. */
function run(base: MetaState, fn: (tx: StagedTx) => void): { state: MetaState; puts: number[]; removes: number[] } {
  const tx = new StagedTx(base, true);
  fn(tx);
  tx.finish();
  const { puts, removes } = recordWrites(base, tx.changes);
  return { state: tx.staged(), puts: [...puts.keys()].sort((a, b) => a - b), removes: removes.sort((a, b) => a - b) };
}

describe('recordWrites', () => {
  it('create on a parent puts only the new record (the parent child count is not stored)', () => {
    const { state: base } = run(emptyState(), (tx) => {
      tx.create('active', 'k', '', {});
      tx.commit('k', 'p', NO_USAGE, {});
    });
    const { puts, removes } = run(base, (tx) => tx.create('view', 'v', 'p', {}));
    expect(puts).toEqual([2]);
    expect(removes).toEqual([]);
  });

  it('commit rewrites the record under the same id and deletes nothing', () => {
    const { state: base } = run(emptyState(), (tx) => tx.create('active', 'k', '', {}));
    const { puts, removes } = run(base, (tx) => tx.commit('k', 'n', NO_USAGE, {}));
    expect(puts).toEqual([1]);
    expect(removes).toEqual([]);
  });

  it('remove deletes the id; remove + create of the same key deletes the old id and puts the new one', () => {
    const { state: base } = run(emptyState(), (tx) => tx.create('active', 'k', '', {}));
    expect(run(base, (tx) => tx.remove('k'))).toMatchObject({ puts: [], removes: [1] });
    expect(
      run(base, (tx) => {
        tx.remove('k');
        tx.create('active', 'k', '', {});
      }),
    ).toMatchObject({ puts: [2], removes: [1] });
  });

  it('a snapshot created and removed in one transaction writes nothing for it', () => {
    const { puts, removes } = run(emptyState(), (tx) => {
      tx.create('active', 'k', '', {});
      tx.remove('k');
    });
    expect(puts).toEqual([]);
    expect(removes).toEqual([]);
  });

  it('update rewrites the record', () => {
    const { state: base } = run(emptyState(), (tx) => tx.create('active', 'k', '', {}));
    expect(run(base, (tx) => tx.update({ name: 'k', labels: { a: '1' } }, []))).toMatchObject({ puts: [1], removes: [] });
  });
});
