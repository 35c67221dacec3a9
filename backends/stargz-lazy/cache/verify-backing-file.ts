/**
 * Checks a backing file this process did not write (found at open, after a restart) before it
 * may serve: its bytes must hash to the file's digest (the key says it, `backing-path.ts`), or,
 * for a file keyed by its chunk list, each chunk's range must hash to that chunk's digest.
 * Streamed piece by piece (bounded memory), yielding between pieces. Answers the identity the
 * file had while it was hashed, or why it is not right (the caller removes it).
 */
import { createHash } from 'node:crypto';
import { open } from 'node:fs/promises';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { digestAlgorithm, type DigestAlgorithm } from '../estargz/digest.js';
import type { LayerNode } from '../estargz/layer-node.js';
import { identityOf } from './file-identity.js';

const PIECE_BYTES = 1024 * 1024;

export type VerifyResult = { ok: true; identity: string } | { ok: false; reason: string };

export async function verifyBackingFile(path: string, node: Pick<LayerNode, 'chunks' | 'size'>, digest: string | undefined): Promise<VerifyResult> {
  const handle = await open(path, 'r');
  try {
    const before = await handle.stat();
    if (!before.isFile() || before.size !== node.size) return { ok: false, reason: `${before.size} bytes, the file has ${node.size}` };
    const piece = Buffer.allocUnsafe(Math.min(PIECE_BYTES, node.size));
    const hashRange = async (from: number, size: number, algorithm: DigestAlgorithm) => {
      const hash = createHash(algorithm);
      for (let at = 0; at < size; ) {
        const { bytesRead } = await handle.read(piece, 0, Math.min(piece.length, size - at), from + at);
        if (bytesRead === 0) break;
        hash.update(piece.subarray(0, bytesRead));
        at += bytesRead;
        await yieldToLoop();
      }
      return `${algorithm}:${hash.digest('hex')}`;
    };
    const ranges = digest !== undefined ? [{ from: 0, size: node.size, digest }] : node.chunks.map((c) => ({ from: c.chunkOffset, size: c.chunkSize, digest: c.chunkDigest }));
    for (const r of ranges) {
      const algorithm = digestAlgorithm(r.digest);
      if (algorithm === undefined) return { ok: false, reason: `${JSON.stringify(r.digest.slice(0, 80))} is not a digest` };
      const actual = await hashRange(r.from, r.size, algorithm);
      if (actual !== r.digest) return { ok: false, reason: `bytes ${r.from}+${r.size} hash to ${actual}, not ${r.digest}` };
    }
    const after = await handle.stat();
    const identity = identityOf(after);
    return identity === identityOf(before) ? { ok: true, identity } : { ok: false, reason: 'changed while it was hashed' };
  } finally {
    await handle.close().catch(() => undefined);
  }
}
