/** Whom a request authorizes with: the registry host, the origin requests to it go to, and the scope. */
export interface AuthTarget {
  /** As in image references (`docker.io`, `127.0.0.1:5000`); credentials and tokens are keyed by it. */
  host: string;
  /** `scheme://host[:port]` the registry's requests (and its 401 challenges) go to. */
  origin: string;
  /** `repository:<name>:pull`. */
  scope: string;
  /** `<name>` of the scope: credentials may be per repository. */
  repository?: string;
}
