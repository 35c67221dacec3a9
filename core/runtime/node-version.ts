/**
 * The Node.js versions snaphost runs on: a supported LTS (package.json `engines`). The one place
 * that refuses an older one is the CLI's first import (./require-node.ts); scripts/lib/
 * node-runtime.sh installs the pinned runtime that the scripts and the systemd unit use.
 */
export const MIN_NODE_MAJOR = 24;

/** Why `version` (as in `process.versions.node`) cannot run snaphost, or undefined when it can. */
export function nodeVersionProblem(version: string): string | undefined {
  const m = /^(\d+)\.\d+\.\d+/.exec(version);
  if (!m) return `cannot tell the Node.js version from ${JSON.stringify(version)}`;
  const major = Number(m[1]);
  if (major >= MIN_NODE_MAJOR) return undefined;
  return (
    `snaphost needs Node.js >= ${MIN_NODE_MAJOR} (a supported LTS); this is Node.js ${version}. ` +
    'Run `bash scripts/install-deps.sh` as root: it installs snaphost\'s own Node.js into /opt/snaphost/node ' +
    '(SNAPHOST_NODE_ROOT) and leaves the system Node.js alone; then run snaphost with /opt/snaphost/node/bin/node.'
  );
}
