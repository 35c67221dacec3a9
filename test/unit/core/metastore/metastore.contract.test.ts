/**
 * The same MetaStore contract against the in-memory store and the LMDB store: both must give
 * the same answers and errors (test/unit/core/metastore/metastore-contract.ts).
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { LmdbMetaStore } from '../../../../core/metastore/lmdb-metastore.js';
import { MemoryMetaStore } from '../../../../core/metastore/memory-metastore.js';
import { metastoreContract } from './metastore-contract.js';

let tmp: string;
let n = 0;
beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'snaphost-metastore-contract-'));
});
afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

metastoreContract('MemoryMetaStore', { open: async () => new MemoryMetaStore() });
metastoreContract('LmdbMetaStore', { open: () => LmdbMetaStore.open(join(tmp, `store-${++n}`)) });
