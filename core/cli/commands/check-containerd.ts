/** `snaphost check-containerd`: what the running containerd makes of each configured backend. */
import { resolve } from 'node:path';
import { checkContainerd, DEFAULT_CHECK_TIMEOUT_MS, DEFAULT_CONTAINERD_ADDRESS } from '../../containerd-check/check-containerd.js';
import { findingsExitCode, renderFindings } from '../../containerd-check/render-findings.js';
import { makesRemoteSnapshots } from '../../containerd-config/containerd-config.js';
import { describe } from '../../contract/errors.js';
import { defineCommand } from '../command.js';
import { CONFIG_OPTION, configOfFlag } from '../config-flag.js';
import { notEmpty, UsageError } from '../parse-command-line.js';

export const checkContainerdCommand = defineCommand({
  name: 'check-containerd',
  usage: `  snaphost check-containerd [--config FILE] [--address SOCK] [--containerd-config FILE]
                            [--timeout-ms N] [--json]
      Ask the RUNNING containerd at SOCK (default ${DEFAULT_CONTAINERD_ADDRESS}) what it
      makes of each backend: proxy plugin missing or not ok, socket not served, no
      unpack_config (2.x; read with \`containerd config dump\` of the running binary and its
      config, or of --containerd-config FILE), CRI settings. Findings per backend (--json: an
      array). The whole check ends within N ms (default ${DEFAULT_CHECK_TIMEOUT_MS}). Exit 1 on any error.
`,
  options: { ...CONFIG_OPTION, address: { type: 'string' }, 'containerd-config': { type: 'string' }, 'timeout-ms': { type: 'string' }, json: { type: 'boolean' } },
  async run({ values, logLevel }, io) {
    const config = await configOfFlag(values.config, logLevel, io);
    const address = resolve(io.cwd, values.address ?? DEFAULT_CONTAINERD_ADDRESS);
    notEmpty('address', values.address);
    notEmpty('containerd-config', values['containerd-config']);
    const raw = values['timeout-ms'];
    const timeoutMs = raw === undefined ? DEFAULT_CHECK_TIMEOUT_MS : /^[0-9]+$/.test(raw) ? Number(raw) : NaN;
    if (!(timeoutMs >= 1 && timeoutMs <= 300_000)) throw new UsageError(`--timeout-ms must be a whole number of ms in 1..300000, got "${raw}"`);
    const backends = config.backends.map((b) => ({ name: b.name, socket: b.socket, root: b.root, remoteSnapshots: makesRemoteSnapshots(b) }));
    const findings = await checkContainerd({
      address,
      backends,
      signal: AbortSignal.timeout(timeoutMs),
      callTimeoutMs: timeoutMs,
      ...(values['containerd-config'] !== undefined ? { containerdConfig: resolve(io.cwd, values['containerd-config']) } : {}),
    });
    for (const b of config.backends.filter((x) => x.error)) {
      findings.push({ backend: b.name, severity: 'warning', code: 'backend-not-loaded', message: `its module does not load (${describe(b.error)}): \`snaphost check\` says why` });
    }
    io.stdout.write(values.json ? `${JSON.stringify(findings, null, 2)}\n` : renderFindings(findings, backends.map((b) => b.name), address));
    return findingsExitCode(findings);
  },
});
