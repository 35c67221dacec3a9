/** Whole percent of `part` in `total`, never 100 before everything is there; 100 for an empty total. */
export function percent(part: number, total: number): number {
  if (total <= 0) return 100;
  return Math.floor((part * 100) / total);
}
