/**
 * deploy/kubernetes: every YAML parses, the kustomization names files that exist, and every
 * path, port and probe of the DaemonSet is the one the deploy config (plugins.config.ts) and the
 * e2e pod (test/e2e/lib/daemonset-spec.mjs, what test/e2e/daemonset.e2e.sh runs) use.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, posix } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments, parse } from 'yaml';
import { loadConfigFile } from '../../../../core/config/load-config-file.js';

const repo = join(dirname(fileURLToPath(import.meta.url)), '../../../..');
const deploy = join(repo, 'deploy/kubernetes');
const yamlFiles = readdirSync(deploy).filter((f) => f.endsWith('.yaml'));
const kustomization = parse(readFileSync(join(deploy, 'kustomization.yaml'), 'utf8'));
const ds = parse(readFileSync(join(deploy, 'daemonset.yaml'), 'utf8'));
const pod = ds.spec.template.spec;
const container = pod.containers[0];
const volumes = new Map<string, any>(pod.volumes.map((v: any) => [v.name, v]));
const hostMounts = container.volumeMounts
  .filter((m: any) => volumes.get(m.name)?.hostPath)
  .map((m: any) => ({ ...m, hostPath: volumes.get(m.name).hostPath }));
const mountOf = (path: string) => hostMounts.find((m: any) => path === m.mountPath || path.startsWith(`${m.mountPath}/`));

async function deployConfig(): Promise<any> {
  return (await loadConfigFile(join(deploy, 'plugins.config.ts'))).config;
}
/** The file the ConfigMap puts in the pod: the one the container's --config names. */
const CONFIG_IN_POD = '/etc/snaphost/plugins.config.ts';
const configFlag = (cmd: string[]) => cmd[cmd.indexOf('--config') + 1];

describe('deploy/kubernetes', () => {
  it.each(yamlFiles)('%s parses without errors or warnings', (f) => {
    const docs = parseAllDocuments(readFileSync(join(deploy, f), 'utf8'));
    expect(docs.length).toBeGreaterThan(0);
    for (const d of docs) expect([...d.errors, ...d.warnings].map(String)).toEqual([]);
  });

  it('the kustomization lists files that exist, and every YAML file is listed', () => {
    const listed: string[] = [...kustomization.resources, ...kustomization.configMapGenerator.flatMap((g: any) => g.files.map((f: string) => f.split('=').pop()))];
    for (const f of listed) expect(existsSync(join(deploy, f)), f).toBe(true);
    for (const f of yamlFiles.filter((y) => y !== 'kustomization.yaml')) expect(listed).toContain(f);
  });

  it('the DaemonSet is a node agent: privileged, host PID, every taint tolerated, system-node-critical, one node at a time', () => {
    expect(container.securityContext.privileged).toBe(true);
    expect(pod.hostPID).toBe(true);
    expect(pod.tolerations).toContainEqual({ operator: 'Exists' });
    expect(pod.priorityClassName).toBe('system-node-critical');
    expect(ds.spec.updateStrategy).toEqual({ type: 'RollingUpdate', rollingUpdate: { maxUnavailable: 1 } });
    expect(ds.spec.selector.matchLabels).toEqual(ds.spec.template.metadata.labels);
    expect(container.resources.requests).toHaveProperty('cpu');
    expect(container.resources.requests).toHaveProperty('memory');
  });

  it('every hostPath is mounted at the same path in the pod; /dev/fuse is a character device', () => {
    expect(hostMounts.length).toBe([...volumes.values()].filter((v) => v.hostPath).length);
    for (const m of hostMounts) expect(m.mountPath, m.name).toBe(m.hostPath.path);
    expect(mountOf('/dev/fuse')?.hostPath.type).toBe('CharDevice');
  });

  it('the config file the container and its readiness probe name is the ConfigMap generated from plugins.config.ts', () => {
    expect(configFlag(container.command)).toBe(CONFIG_IN_POD);
    expect(container.readinessProbe.exec.command.slice(0, 2)).toEqual(['snaphost', 'wait-ready']);
    expect(configFlag(container.readinessProbe.exec.command)).toBe(CONFIG_IN_POD);
    const m = container.volumeMounts.find((v: any) => v.mountPath === posix.dirname(CONFIG_IN_POD));
    expect(m.readOnly).toBe(true);
    const generated = kustomization.configMapGenerator.find((g: any) => g.name === volumes.get(m.name).configMap.name);
    expect(generated.files).toContain(posix.basename(CONFIG_IN_POD));
  });

  it('socketDir, rootDir and the CRI proxy sockets are on host paths with the propagation they need', async () => {
    const config = await deployConfig();
    for (const dir of [config.socketDir, config.rootDir]) {
      expect(mountOf(dir)?.mountPropagation, dir).toBe('Bidirectional');
    }
    expect(config.socketDir).toBe('/run/snaphost');
    expect(config.rootDir).toBe('/var/lib/snaphost');
    expect(mountOf(config.criProxy.listen)?.mountPath).toBe('/run/snaphost');
    expect(mountOf(config.criProxy.upstream)?.mountPath).toBe('/run/containerd');
    for (const b of config.backends) {
      if (b.socket) expect(mountOf(b.socket), b.name).toBeDefined();
      if (b.root) expect(mountOf(b.root)?.mountPropagation, b.name).toBe('Bidirectional');
    }
    expect(mountOf('/etc/containerd/certs.d')?.readOnly).toBe(true);
  });

  it('the metrics port is the container port, the host port, the liveness probe and the scrape annotation', async () => {
    const port = Number((await deployConfig()).metrics.address.split(':').pop());
    const p = container.ports.find((x: any) => x.name === 'metrics');
    expect([p.containerPort, p.hostPort]).toEqual([port, port]);
    expect(container.livenessProbe.httpGet).toEqual({ path: '/metrics', port: 'metrics' });
    expect(Number(ds.spec.template.metadata.annotations['prometheus.io/port'])).toBe(port);
  });

  it('terminationGracePeriodSeconds leaves time beyond shutdownTimeoutMs to close the backends', async () => {
    const { shutdownTimeoutMs } = await deployConfig();
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(shutdownTimeoutMs + 5000);
  });

  it('the e2e pod (lib/daemonset-spec.mjs) translates exactly these mounts, probes and ports', () => {
    const spec = JSON.parse(execFileSync(process.execPath, [join(repo, 'test/e2e/lib/daemonset-spec.mjs'), deploy], { encoding: 'utf8' }));
    expect(spec.mounts.map((m: any) => [m.hostPath, m.mountPath])).toEqual(hostMounts.map((m: any) => [m.hostPath.path, m.mountPath]));
    const propagation: Record<string, string> = { Bidirectional: 'rshared' };
    for (const [i, m] of hostMounts.entries()) expect(spec.mounts[i].propagation, m.name).toBe(propagation[m.mountPropagation] ?? 'rprivate');
    expect(spec.readiness.command).toEqual(container.readinessProbe.exec.command);
    expect(spec.liveness).toMatchObject({ path: '/metrics', port: container.ports[0].containerPort });
    expect(spec.configFiles).toEqual([{ name: 'plugins.config.ts', source: 'plugins.config.ts', mountPath: posix.dirname(CONFIG_IN_POD), file: false }]);
    expect(spec.command).toEqual(container.command);
    expect([spec.privileged, spec.hostPID, spec.hostNetwork]).toEqual([true, true, true]);
    expect(spec.terminationGracePeriodSeconds).toBe(pod.terminationGracePeriodSeconds);
  });
});
