/**
 * One thing `snaphost check-containerd` (check-containerd.ts) found out about a RUNNING
 * containerd, for one snaphost backend (or for containerd as a whole when `backend` is absent).
 * Every source of findings (the plugin list from containerd's introspection service, the
 * backend's socket, the transfer service's unpack configuration and the proxy plugins' addresses
 * from `containerd config dump`, the CRI plugin's effective configuration, containerd's version)
 * returns a list of these; the command prints them per backend (render-findings.ts) and exits 1
 * when any has severity 'error'.
 */
export interface ContainerdFinding {
  /** The snaphost backend (= containerd snapshotter name) this is about; absent: containerd itself. */
  backend?: string;
  /** 'error': that backend cannot be used as configured; 'warning': it works, but not as intended (for example not lazily); 'ok': checked and fine. */
  severity: 'ok' | 'warning' | 'error';
  /** A stable, kebab-case identifier (`proxy-plugin-not-ok`, `no-unpack-config`, `cri-snapshot-annotations-off`, ...): tests and scripts match on it, never on `message`. */
  code: string;
  /** One line for an operator: what is wrong and what to change, naming the config table or key. */
  message: string;
}
