/**
 * A strict reader of the Prometheus text format (0.0.4) for tests: every sample must belong
 * to a family declared by `# TYPE` before it (a histogram's through `_bucket`/`_sum`/`_count`),
 * label syntax and escapes must be valid, and no series may appear twice. Throws otherwise.
 */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

export interface Family {
  name: string;
  type: string;
  help: string;
  samples: Sample[];
}

const NAME = '[a-zA-Z_:][a-zA-Z0-9_:]*';
const SAMPLE = new RegExp(`^(${NAME})(?:\\{(.*)\\})? (\\S+)$`);
const LABEL = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\\n]|\\[\\"n])*)"(,|$)/;

export function parseExposition(text: string): Map<string, Family> {
  if (!text.endsWith('\n')) throw new Error('the exposition must end with a newline');
  const families = new Map<string, Family>();
  const series = new Set<string>();
  let current: Family | undefined;
  for (const [i, line] of text.slice(0, -1).split('\n').entries()) {
    const fail = (why: string) => new Error(`line ${i + 1} ${JSON.stringify(line)}: ${why}`);
    if (line === '') continue;
    const help = new RegExp(`^# HELP (${NAME}) (.*)$`).exec(line);
    if (help) {
      if (families.has(help[1]!)) throw fail('family declared twice');
      current = { name: help[1]!, type: 'untyped', help: unescape(help[2]!, false), samples: [] };
      families.set(current.name, current);
      continue;
    }
    const type = new RegExp(`^# TYPE (${NAME}) (counter|gauge|histogram|summary|untyped)$`).exec(line);
    if (type) {
      if (!current || current.name !== type[1]) throw fail('TYPE does not follow its HELP');
      current.type = type[2]!;
      continue;
    }
    if (line.startsWith('#')) throw fail('unknown comment');
    const m = SAMPLE.exec(line);
    if (!m) throw fail('not a sample');
    const [, name, rawLabels = '', rawValue] = m;
    if (!current || !belongs(name!, current)) throw fail(`sample outside its family (current: ${current?.name ?? 'none'})`);
    const labels = parseLabels(rawLabels, fail);
    // Prometheus reads values with Go's strconv.ParseFloat: Inf and NaN in any letter case.
    const special = /^([+-]?)inf$/i.exec(rawValue!);
    const value = special ? (special[1] === '-' ? -Infinity : Infinity) : /^nan$/i.test(rawValue!) ? NaN : Number(rawValue);
    if (Number.isNaN(value) && !/^nan$/i.test(rawValue!)) throw fail(`bad value ${rawValue}`);
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw fail('duplicate series');
    series.add(key);
    current.samples.push({ name: name!, labels, value });
  }
  for (const f of families.values()) if (f.type === 'histogram') checkHistogram(f);
  return families;
}

function belongs(name: string, f: Family): boolean {
  if (name === f.name) return f.type !== 'histogram';
  return f.type === 'histogram' && [`${f.name}_bucket`, `${f.name}_sum`, `${f.name}_count`].includes(name);
}

function parseLabels(raw: string, fail: (why: string) => Error): Record<string, string> {
  const labels: Record<string, string> = {};
  let rest = raw;
  while (rest !== '') {
    const m = LABEL.exec(rest);
    if (!m) throw fail(`bad labels at ${JSON.stringify(rest)}`);
    if (m[1]! in labels) throw fail(`label ${m[1]} twice`);
    labels[m[1]!] = unescape(m[2]!, true);
    rest = rest.slice(m[0].length);
  }
  return labels;
}

function unescape(s: string, quotes: boolean): string {
  return s.replace(quotes ? /\\([\\"n])/g : /\\([\\n])/g, (_, c: string) => (c === 'n' ? '\n' : c));
}

/** Buckets cumulative per series, a `+Inf` bucket equal to `_count`. */
function checkHistogram(f: Family): void {
  const bySeries = new Map<string, Sample[]>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    if (!bySeries.has(key)) bySeries.set(key, []);
    bySeries.get(key)!.push(s);
  }
  for (const [key, samples] of bySeries) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name === `${f.name}_count`);
    const sum = samples.find((s) => s.name === `${f.name}_sum`);
    if (!count || !sum) throw new Error(`${f.name}${key}: _sum or _count missing`);
    const inf = buckets.find((b) => b.labels.le === '+Inf');
    if (!inf || inf.value !== count.value) throw new Error(`${f.name}${key}: +Inf bucket must equal _count`);
    const sorted = buckets.map((b) => ({ le: b.labels.le === '+Inf' ? Infinity : Number(b.labels.le), v: b.value }));
    for (let i = 1; i < sorted.length; i++) {
      if (!(sorted[i]!.le > sorted[i - 1]!.le) || sorted[i]!.v < sorted[i - 1]!.v) throw new Error(`${f.name}${key}: buckets not ascending and cumulative`);
    }
  }
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when none. */
export function valueOf(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number | undefined {
  const found = [...families.values()].flatMap((f) => f.samples).filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v));
  if (found.length > 1) throw new Error(`${name}${JSON.stringify(labels)} matches ${found.length} series`);
  return found[0]?.value;
}
