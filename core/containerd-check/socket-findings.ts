/**
 * Does snaphost serve each backend's socket right now? containerd dials a proxy plugin lazily:
 * its plugin list says "ok" for a proxy snapshotter whose socket nobody serves, and every call
 * to it then fails (UNAVAILABLE). One connection attempt per socket, as `snaphost wait-ready`
 * makes.
 */
import { tryConnect } from '../systemd/wait-ready.js';
import type { ContainerdCheckContext } from './check-context.js';
import type { ContainerdFinding } from './finding.js';

export async function socketFindings(ctx: ContainerdCheckContext): Promise<ContainerdFinding[]> {
  return Promise.all(
    ctx.backends.map(async (b): Promise<ContainerdFinding> => {
      const reason = ctx.signal.aborted ? 'check aborted' : await tryConnect(b.socket, Math.min(ctx.callTimeoutMs, 5000));
      if (reason === undefined) return { backend: b.name, severity: 'ok', code: 'backend-serving', message: `snaphost serves it at ${b.socket}` };
      return {
        backend: b.name,
        severity: 'error',
        code: 'backend-not-serving',
        message: `nothing serves ${b.socket} (${reason}): containerd's calls to snapshotter "${b.name}" fail; start snaphost on this config (\`snaphost serve\`, systemctl start snaphost) and check \`snaphost status\``,
      };
    }),
  );
}
