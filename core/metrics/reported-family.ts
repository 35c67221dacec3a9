/**
 * A metric family whose samples are computed at scrape time (from the backends' status
 * reports), not accumulated: a prom-client custom collector. It implements the collector
 * protocol prom-client's Registry renders (`name`, `help`, `type`, `get()`), so escaping and
 * the text format are prom-client's, including histograms (`_bucket{le}`, `_sum`, `_count`).
 */
import type { Metric } from 'prom-client';

export type FamilyType = 'counter' | 'gauge' | 'histogram';

/** Suffix of a histogram's sample names. */
export type HistogramPart = '_bucket' | '_sum' | '_count';

interface Sample {
  labels: Record<string, string>;
  value: number;
  part?: HistogramPart;
}

export class ReportedFamily {
  readonly aggregator = 'sum';
  readonly #samples: Sample[] = [];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: FamilyType,
  ) {}

  /** Add one sample; for a histogram, `part` says which of its series. */
  add(labels: Record<string, string>, value: number, part?: HistogramPart): void {
    this.#samples.push(part ? { labels, value, part } : { labels, value });
  }

  get size(): number {
    return this.#samples.length;
  }

  /** What prom-client's Registry asks a metric for when it renders. */
  get(): { name: string; help: string; type: FamilyType; aggregator: string; values: { metricName?: string; labels: Record<string, string>; value: number }[] } {
    return {
      name: this.name,
      help: this.help,
      type: this.type,
      aggregator: this.aggregator,
      values: this.#samples.map((s) => (s.part ? { metricName: this.name + s.part, labels: s.labels, value: s.value } : { labels: s.labels, value: s.value })),
    };
  }

  /** This collector as the type `Registry.registerMetric` declares (it only calls `get()`). */
  asMetric(): Metric {
    return this as unknown as Metric;
  }
}
