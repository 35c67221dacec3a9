// Reading the benchmarks' result TSVs (a header line, then one row per line).
import { readFileSync } from 'node:fs';

/** The rows of a TSV file, each as an object keyed by the header's column names. */
export function readTsv(file) {
  const [header, ...lines] = readFileSync(file, 'utf8').trim().split('\n');
  const cols = header.split('\t');
  return lines.map((l) => Object.fromEntries(l.split('\t').map((v, i) => [cols[i], v])));
}

/** `median(contender, metric)` of a summary TSV (contender, metric, n, median, min, max); undefined when not measured. */
export function mediansOf(file) {
  const rows = readTsv(file);
  return (contender, metric) => {
    const row = rows.find((r) => r.contender === contender && r.metric === metric);
    return row ? Number(row.median) : undefined;
  };
}
