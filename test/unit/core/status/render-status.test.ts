import { describe, expect, it } from 'vitest';
import { renderStatus } from '../../../../core/status/render-status.js';
import { daemonReportSchema } from '../../../../core/status/status-report.js';

const base = { pid: 1, startedAt: '2026-01-01T00:00:00Z', adminSocket: '/run/snaphost/snaphost-admin.sock', backends: [] };

describe('renderStatus with the CRI proxy', () => {
  it('shows the sockets and the count of repositories with credentials', () => {
    const r = daemonReportSchema.parse({ ...base, criProxy: { listen: '/run/snaphost/cri.sock', upstream: '/run/containerd/containerd.sock', repositoriesWithCredentials: 2 } });
    expect(renderStatus(r)).toContain('CRI image proxy /run/snaphost/cri.sock -> /run/containerd/containerd.sock, credentials for 2 repositories');
  });

  it('says nothing of it when there is none', () => {
    expect(renderStatus(daemonReportSchema.parse(base))).not.toContain('CRI');
  });

  it('the report schema takes no other field (no credential can slip into it)', () => {
    expect(daemonReportSchema.safeParse({ ...base, criProxy: { listen: 'a', upstream: 'b', repositoriesWithCredentials: 0, credentials: [] } }).success).toBe(false);
  });
});
