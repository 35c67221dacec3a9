import { describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '../../../../../core/sdk.js';
import { formatReference, parseReference } from '../../../../../backends/stargz-lazy/registry/reference.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  it.each([
    ['127.0.0.1:5000/tiny:esgz', { host: '127.0.0.1:5000', repository: 'tiny', tag: 'esgz' }],
    ['localhost/a/b', { host: 'localhost', repository: 'a/b', tag: 'latest' }],
    ['localhost:5000/a/b-c_d.e__f', { host: 'localhost:5000', repository: 'a/b-c_d.e__f', tag: 'latest' }],
    ['nginx', { host: 'docker.io', repository: 'library/nginx', tag: 'latest' }],
    ['nginx:1.25', { host: 'docker.io', repository: 'library/nginx', tag: '1.25' }],
    ['user/app', { host: 'docker.io', repository: 'user/app', tag: 'latest' }],
    ['index.docker.io/user/app:v1', { host: 'docker.io', repository: 'user/app', tag: 'v1' }],
    ['docker.io/library/busybox:latest', { host: 'docker.io', repository: 'library/busybox', tag: 'latest' }],
    ['ghcr.io/org/team/app@' + D, { host: 'ghcr.io', repository: 'org/team/app', digest: D }],
    ['ghcr.io/org/app:v2@' + D, { host: 'ghcr.io', repository: 'org/app', tag: 'v2', digest: D }],
    ['[::1]:5000/app:x', { host: '[::1]:5000', repository: 'app', tag: 'x' }],
    ['[::1]/app', { host: '[::1]', repository: 'app', tag: 'latest' }],
    ['Registry.Example/app', { host: 'Registry.Example', repository: 'app', tag: 'latest' }],
  ])('%s', (input, expected) => {
    expect(parseReference(input, 'label x')).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    [' nginx', /whitespace/],
    ['127.0.0.1:5000/', /no repository/],
    ['127.0.0.1:5000/UPPER', /repository component "UPPER"/],
    ['host.io/a//b', /repository component ""/],
    ['host.io/a:bad tag', /tag/],
    ['host.io/a@sha256:abc', /digest/],
    ['host.io/a@md5:' + 'a'.repeat(32), /digest/],
    ['host.io:99999/a', /port 99999/],
    ['-bad.io/a', /host "-bad.io"/],
    ['http://host.io/a', /./],
    [`host.io/${'a'.repeat(260)}`, /longer than 255/],
  ])('rejects %j', (input, why) => {
    let err: unknown;
    try {
      parseReference(input, 'label containerd.io/snapshot/remote/stargz.reference');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(InvalidArgumentError);
    expect((err as Error).message).toMatch(/^label containerd\.io\/snapshot\/remote\/stargz\.reference: /);
    expect((err as Error).message).toMatch(why);
  });

  it('formats back to the canonical form', () => {
    expect(formatReference(parseReference('nginx', 'x'))).toBe('docker.io/library/nginx:latest');
    expect(formatReference(parseReference(`ghcr.io/a:t@${D}`, 'x'))).toBe(`ghcr.io/a:t@${D}`);
  });
});
