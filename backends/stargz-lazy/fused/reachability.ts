/**
 * Memoized reachability of layer blobs, for the availability check (`POST /v1/check`): a
 * burst of `mounts` calls costs one probe per blob every `ttlMs`, and concurrent checks of
 * one blob share its probe. A host that did not answer at all is remembered as down for
 * `ttlMs` too, so the other blobs of a dead registry cost nothing and answer at once.
 * Nothing here is sticky: every answer expires after `ttlMs`.
 */
import { abortable } from '../layer/in-flight.js';
import type { ProbeResult } from '../registry/probe-blob.js';

export interface ReachabilityTarget {
  /** Registry host of the reference (the key of the host memory). */
  host: string;
  /** Key of the blob: reference host, repository and digest. */
  key: string;
}

/** Sends one probe; bounded by its own timeout (it is shared, so no caller's signal ends it). */
export type Probe = () => Promise<ProbeResult>;

export interface ReachabilityOptions {
  ttlMs: number;
  now?: () => number;
}

interface Remembered {
  result: ProbeResult;
  at: number;
}

/** Entries kept at most (oldest forgotten first); a node serves far fewer layers. */
const MAX_ENTRIES = 16_384;

export class Reachability {
  readonly #ttlMs: number;
  readonly #now: () => number;
  readonly #blobs = new Map<string, Remembered>();
  readonly #hostsDown = new Map<string, Remembered>();
  readonly #probing = new Map<string, Promise<ProbeResult>>();
  /** Probes actually sent (for tests and metrics). */
  probes = 0;

  constructor(o: ReachabilityOptions) {
    this.#ttlMs = o.ttlMs;
    this.#now = o.now ?? Date.now;
  }

  /** The remembered answer for `t`, else the answer of `probe` (shared with concurrent callers). */
  check(t: ReachabilityTarget, probe: Probe, signal?: AbortSignal): Promise<ProbeResult> {
    const now = this.#now();
    const down = fresh(this.#hostsDown.get(t.host), now, this.#ttlMs);
    if (down) return Promise.resolve(down.result);
    const known = fresh(this.#blobs.get(t.key), now, this.#ttlMs);
    if (known) return Promise.resolve(known.result);
    let running = this.#probing.get(t.key);
    if (!running) {
      this.probes++;
      running = probe().then((result) => {
        this.#remember(this.#blobs, t.key, result);
        if (!result.reachable && !result.answered) this.#remember(this.#hostsDown, t.host, result);
        if (result.reachable) this.#hostsDown.delete(t.host);
        return result;
      });
      this.#probing.set(t.key, running);
      const forget = () => this.#probing.delete(t.key);
      running.then(forget, forget);
    }
    return abortable(running, signal);
  }

  /**
   * The registry just served `t`'s blob (e.g. its footer and TOC at mount): remembered as a
   * probe answer would be, so the check of a layer mounted a moment ago costs no request.
   */
  noteReachable(t: ReachabilityTarget): void {
    this.#remember(this.#blobs, t.key, { reachable: true });
    this.#hostsDown.delete(t.host);
  }

  #remember(map: Map<string, Remembered>, key: string, result: ProbeResult): void {
    map.delete(key);
    map.set(key, { result, at: this.#now() });
    if (map.size > MAX_ENTRIES) map.delete(map.keys().next().value!);
  }
}

function fresh(r: Remembered | undefined, now: number, ttlMs: number): Remembered | undefined {
  return r !== undefined && now - r.at < ttlMs ? r : undefined;
}
