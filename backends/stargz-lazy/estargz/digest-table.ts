/**
 * Raw digest bytes, each prefixed by its length (32, 48, 64: the algorithm). Collected as hex
 * and decoded once at the end: one native call instead of one per digest.
 */
export class DigestTable {
  #hex: string[] = [];
  #length = 0;

  /** Appends checked digest `d` (`sha256:<hex>`, `sha384:…`, `sha512:…`); returns its offset. */
  add(d: string): number {
    const hex = d.slice(ALGORITHM_LENGTH + 1);
    const raw = hex.length / 2;
    this.#hex.push(LENGTH_HEX[raw]!, hex);
    const at = this.#length;
    this.#length += raw + 1;
    return at;
  }

  finish(): Buffer {
    const out = Buffer.from(this.#hex.join(''), 'hex');
    if (out.length !== this.#length) throw new Error(`internal: digest table is ${out.length} bytes, want ${this.#length}`);
    return out;
  }
}

/** Every algorithm checked digests may have is 6 characters long. */
const ALGORITHM_LENGTH = 'sha256'.length;
const LENGTH_HEX: Readonly<Record<number, string>> = { 32: '20', 48: '30', 64: '40' };
