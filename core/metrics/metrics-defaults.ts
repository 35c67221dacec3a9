/** Defaults of the `metrics` config section (define-config.ts documents each option). */

/** `metrics.collectTimeoutMs`: a backend's status slower than this fails its collection. */
export const DEFAULT_COLLECT_TIMEOUT_MS = 5000;
/** `metrics.minIntervalMs`: a backend's status is collected at most once per this long, whatever the scrape rate. */
export const DEFAULT_MIN_COLLECT_INTERVAL_MS = 10_000;
/** `metrics.maxConnections`: connections the endpoint accepts at once. */
export const DEFAULT_MAX_CONNECTIONS = 16;
