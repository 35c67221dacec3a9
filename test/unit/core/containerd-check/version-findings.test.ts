import { describe, expect, it } from 'vitest';
import { parseContainerdVersion, versionFindings } from '../../../../core/containerd-check/version-findings.js';

describe('parseContainerdVersion', () => {
  it.each([
    ['1.6.20~ds1', 1, 6],
    ['v2.1.9', 2, 1],
    ['2.0.0-rc.1', 2, 0],
    ['v1.7.27+unknown', 1, 7],
  ])('%s → %i.%i', (text, major, minor) => {
    expect(parseContainerdVersion(text)).toEqual({ text, major, minor });
  });

  it.each(['', 'dev', 'v3.0.0', '0.2.1'])('%j → undefined', (text) => {
    expect(parseContainerdVersion(text)).toBeUndefined();
  });
});

describe('versionFindings', () => {
  const backends = [
    { name: 'stargz-lazy', socket: '/s', root: '/r', remoteSnapshots: true },
    { name: 'memory', socket: '/s2', root: '/r2', remoteSnapshots: false },
  ];
  it('names the version and the containerd-config flag', () => {
    expect(versionFindings(parseContainerdVersion('1.6.20~ds1')!, backends)).toEqual([{ severity: 'ok', code: 'containerd-version', message: 'containerd 1.6.20~ds1 (1.x: `snaphost containerd-config --containerd 1`)' }]);
  });

  it('2.0: a warning per remote-snapshot backend that its transfer service pulls in full; 2.1: none', () => {
    const f = versionFindings(parseContainerdVersion('v2.0.5')!, backends);
    expect(f.map((x) => [x.backend, x.severity, x.code])).toEqual([
      [undefined, 'ok', 'containerd-version'],
      ['stargz-lazy', 'warning', 'transfer-service-full-pull'],
    ]);
    expect(versionFindings(parseContainerdVersion('v2.1.9')!, backends).map((x) => x.code)).toEqual(['containerd-version']);
  });
});
