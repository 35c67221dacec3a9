/**
 * The most pages one FUSE request may carry on this kernel: /proc/sys/fs/fuse/max_pages_limit
 * (Linux 6.13+, adjustable), else the fixed FUSE_MAX_MAX_PAGES of older kernels (256: 1 MiB
 * with 4 KiB pages). A value out of range falls back to that default.
 */
import { readFile } from 'node:fs/promises';
import { DEFAULT_MAX_PAGES } from './init-negotiation.js';

const LIMIT_FILE = '/proc/sys/fs/fuse/max_pages_limit';
/** fuse_init_out.max_pages is a u16. */
const U16_MAX = 65_535;

export async function maxPagesLimit(file = LIMIT_FILE): Promise<number> {
  try {
    const n = Number((await readFile(file, 'utf8')).trim());
    return Number.isInteger(n) && n >= 1 && n <= U16_MAX ? n : DEFAULT_MAX_PAGES;
  } catch {
    return DEFAULT_MAX_PAGES;
  }
}
