/**
 * Writes one regular file whole from its verified chunks into a temp file and puts it in place:
 * piece by piece (1 MiB read, written, hashed: memory bounded whatever the file's size), one
 * piece in flight, yielding to the event loop between pieces so the FUSE requests of this
 * thread are never held behind it. When the TOC gives the file's digest, the bytes written must
 * hash to it, else nothing is installed (a TOC whose chunks and file digest disagree, or a
 * chunk that changed under us). A chunk that left the cache (evicted, found corrupt) stops the
 * assembly: the file is simply not complete any more. The temp file is removed on any failure.
 *
 * `install(tmp)` renames the temp file into place; the identity is taken from the descriptor
 * after that (the rename changes the ctime): the very inode installed.
 */
import { createHash } from 'node:crypto';
import { open, unlink } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { digestAlgorithm } from '../estargz/digest.js';
import type { ChunkRef, LayerNode } from '../estargz/layer-node.js';
import { identityOf } from './file-identity.js';

const PIECE_BYTES = 1024 * 1024;

export interface AssembleFileOptions {
  node: Pick<LayerNode, 'chunks' | 'size'>;
  tmp: string;
  /** The whole file's digest, when known: the bytes written must have it. */
  digest: string | undefined;
  /** Verified bytes [from, from + length) of chunk `c` (from the chunk cache), or undefined when it is not held any more. */
  read(c: ChunkRef, from: number, length: number): Promise<Buffer | undefined>;
  install(tmp: string): Promise<void>;
  signal?: AbortSignal | undefined;
}

export type AssembleResult = { ok: true; identity: string } | { ok: false; reason: string };

export async function assembleFile(o: AssembleFileOptions): Promise<AssembleResult> {
  const algorithm = o.digest === undefined ? undefined : digestAlgorithm(o.digest);
  const hash = algorithm === undefined ? undefined : createHash(algorithm);
  const handle = await open(o.tmp, 'wx', 0o600);
  let installed = false;
  try {
    let written = 0;
    for (const c of o.node.chunks) {
      if (c.chunkOffset !== written) return { ok: false, reason: `chunk at ${c.chunkOffset} does not follow byte ${written}` };
      for (let from = 0; from < c.chunkSize; from += PIECE_BYTES) {
        if (o.signal?.aborted) return { ok: false, reason: 'stopped' };
        const length = Math.min(PIECE_BYTES, c.chunkSize - from);
        const data = await o.read(c, from, length);
        if (data === undefined) return { ok: false, reason: `chunk ${c.chunkDigest} is not in the cache any more` };
        if (data.length !== length) return { ok: false, reason: `chunk ${c.chunkDigest} gave ${data.length} bytes at ${from}, not ${length}` };
        for (let at = 0; at < length; ) at += (await handle.write(data, at, length - at, written + from + at)).bytesWritten;
        hash?.update(data);
        await yieldToLoop();
      }
      written += c.chunkSize;
    }
    if (written !== o.node.size) return { ok: false, reason: `chunks cover ${written} bytes of ${o.node.size}` };
    const actual = hash === undefined ? undefined : `${algorithm}:${hash.digest('hex')}`;
    if (actual !== undefined && actual !== o.digest) return { ok: false, reason: `its bytes hash to ${actual}, not ${o.digest}` };
    await o.install(o.tmp);
    installed = true;
    return { ok: true, identity: identityOf(await handle.stat()) };
  } finally {
    await handle.close().catch(() => undefined);
    if (!installed) await unlink(o.tmp).catch(() => undefined);
  }
}
