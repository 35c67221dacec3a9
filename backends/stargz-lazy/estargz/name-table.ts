const SURROGATE = /[\ud800-\udfff]/;

/** The UTF-8 bytes of every name, joined; encoded once at the end. */
export class NameTable {
  #parts: string[] = [];
  #length = 0;
  /** UTF-8 length of the last name added. */
  lastLength = 0;
  /** Some name added since this was last cleared holds a surrogate (UTF-16 order is not byte order). */
  surrogates = false;

  add(s: string): number {
    const at = this.#length;
    const bytes = Buffer.byteLength(s); // native: a JS char loop costs more while the JIT is cold
    if (bytes !== s.length && SURROGATE.test(s)) this.surrogates = true;
    this.#parts.push(s);
    this.#length += bytes;
    this.lastLength = bytes;
    return at;
  }

  finish(): Buffer {
    const out = Buffer.from(this.#parts.join(''), 'utf8');
    if (out.length !== this.#length) throw new Error(`internal: name table is ${out.length} bytes, want ${this.#length}`);
    return out;
  }
}
