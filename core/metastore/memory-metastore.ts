/**
 * The in-process `MetaStore` (see metastore.ts for the semantics): records in a Map, writes
 * staged per transaction and applied together when the callback resolves. Nothing survives
 * the process; `LmdbMetaStore` is the durable one with the same behaviour.
 */
import { emptyState } from './snapshot-record.js';
import { StagedMetaStore } from './staged-metastore.js';

export class MemoryMetaStore extends StagedMetaStore {
  constructor() {
    super(emptyState());
  }
}
