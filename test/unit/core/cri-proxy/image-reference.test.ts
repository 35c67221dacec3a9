import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { imageRepository, MAX_NAME_LENGTH, MAX_REFERENCE_LENGTH } from '../../../../core/cri-proxy/image-reference.js';

describe('imageRepository', () => {
  it.each([
    ['busybox', 'docker.io', 'library/busybox'],
    ['busybox:1.36', 'docker.io', 'library/busybox'],
    ['library/busybox:latest', 'docker.io', 'library/busybox'],
    ['docker.io/library/busybox@sha256:' + 'a'.repeat(64), 'docker.io', 'library/busybox'],
    ['index.docker.io/nginx', 'docker.io', 'library/nginx'],
    ['bitnami/redis:7', 'docker.io', 'bitnami/redis'],
    ['ghcr.io/org/team/app:v1@sha256:' + 'b'.repeat(64), 'ghcr.io', 'org/team/app'],
    ['127.0.0.1:5000/private/app:v1', '127.0.0.1:5000', 'private/app'],
    ['localhost/app', 'localhost', 'app'],
    ['localhost:5000/app:x', 'localhost:5000', 'app'],
    ['Registry.Example.com/app', 'Registry.Example.com', 'app'],
    ['[::1]:5000/a/b', '[::1]:5000', 'a/b'],
  ])('%s → %s / %s', (ref, host, repository) => {
    expect(imageRepository(ref)).toEqual({ host, repository });
  });

  it.each([
    '',
    'docker.io/UPPER',
    'r.io/Case/x',
    'a//b',
    'app:',
    'app@sha256:zz',
    'app:-bad',
    'x/'.repeat(200) + 'y',
    'evil.io/a\nb',
  ])('refuses %j', (ref) => {
    expect(imageRepository(ref)).toBeUndefined();
  });

  it('an uppercase first component is a registry host, as in containerd', () => {
    expect(imageRepository('UPPER/case')).toEqual({ host: 'UPPER', repository: 'case' });
  });

  it('bounds: any string at all gives undefined or a repository of a bounded, clean name', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 2 * MAX_REFERENCE_LENGTH }), (s) => {
        const r = imageRepository(s);
        if (r === undefined) return;
        expect(r.host.length + r.repository.length).toBeLessThanOrEqual(MAX_NAME_LENGTH + 'library/'.length + 1);
        expect(`${r.host}/${r.repository}`).toMatch(/^[\x21-\x7e]+$/);
        expect(r.repository).not.toMatch(/[:@]/);
      }),
      { numRuns: 2000 },
    );
  });

  it('tags and digests never change the repository', () => {
    const component = fc.stringMatching(/^[a-z0-9]{1,10}$/);
    fc.assert(
      fc.property(fc.array(component, { minLength: 1, maxLength: 4 }), fc.stringMatching(/^\w[\w.-]{0,20}$/), fc.stringMatching(/^[0-9a-f]{64}$/), (parts, tag, hex) => {
        const name = `registry.test:5000/${parts.join('/')}`;
        const base = imageRepository(name);
        expect(base).toEqual({ host: 'registry.test:5000', repository: parts.join('/') });
        expect(imageRepository(`${name}:${tag}`)).toEqual(base);
        expect(imageRepository(`${name}@sha256:${hex}`)).toEqual(base);
        expect(imageRepository(`${name}:${tag}@sha256:${hex}`)).toEqual(base);
      }),
    );
  });

  it('refuses names over the length bounds', () => {
    expect(imageRepository(`r.io/${'a'.repeat(MAX_NAME_LENGTH)}`)).toBeUndefined();
    expect(imageRepository('a'.repeat(MAX_REFERENCE_LENGTH + 1))).toBeUndefined();
  });
});
