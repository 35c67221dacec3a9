import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { criProxySchema } from '../../../../core/cri-proxy/cri-proxy-options.js';
import { startCriProxy, type CriProxy } from '../../../../core/cri-proxy/serve-cri-proxy.js';
import type { Logger } from '../../../../core/logger.js';
import { capturingLog, codec, listResponse, pullRequest, rawCall, startStub, type CriStub } from './cri-stub.js';

let dir: string;
let stub: CriStub;
let proxy: CriProxy | undefined;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'snaphost-cri-proxy-'));
  stub = await startStub(dir);
});
afterEach(async () => {
  await proxy?.close(100);
  proxy = undefined;
  await stub.close();
  await rm(dir, { recursive: true, force: true });
});

async function start(log: Logger, extra: Record<string, unknown> = {}): Promise<CriProxy> {
  const o = criProxySchema.parse({ listen: join(dir, 'cri.sock'), upstream: stub.socket, ...extra });
  proxy = await startCriProxy({ ...o, socketMode: o.socketMode ?? 0o660 }, log);
  return proxy;
}

const silent = () => capturingLog().log;

describe('forwarding', () => {
  it('passes request and response bytes through untouched, unknown fields included', async () => {
    const p = await start(silent());
    // field 99 (varint 7) is in no runtime.v1 message this repository knows
    const unknown = Buffer.from([0xf8, 0x06, 0x07]);
    const request = Buffer.concat([codec('ImageFsInfo').requestSerialize({}), unknown]);
    const response = Buffer.concat([codec('ImageFsInfo').responseSerialize({ imageFilesystems: [{ fsId: { mountpoint: '/x' } }] }), unknown]);
    stub.handlers['ImageFsInfo'] = (_c, cb) => cb(null, response);
    const r = await rawCall(p.listen, 'ImageFsInfo', request);
    expect(r.error).toBeUndefined();
    expect(stub.seen[0]!.request.equals(request)).toBe(true);
    expect(r.response!.equals(response)).toBe(true);
  });

  it('forwards metadata, response headers and trailers', async () => {
    const p = await start(silent());
    stub.handlers['ListImages'] = (call, cb) => {
      const h = new grpc.Metadata();
      h.set('x-head', call.metadata.get('x-caller')[0] as string);
      call.sendMetadata(h);
      const t = new grpc.Metadata();
      t.set('x-trail', 'bye');
      cb(null, listResponse([]), t);
    };
    const md = new grpc.Metadata();
    md.set('x-caller', 'kubelet');
    const r = await rawCall(p.listen, 'ListImages', codec('ListImages').requestSerialize({}), { metadata: md });
    expect(r.error).toBeUndefined();
    expect(stub.seen[0]!.metadata.get('x-caller')).toEqual(['kubelet']);
    expect(r.headers!.get('x-head')).toEqual(['kubelet']);
    expect(r.trailers!.get('x-trail')).toEqual(['bye']);
  });

  it('passes an upstream error through with its code and message', async () => {
    const p = await start(silent());
    stub.handlers['ImageStatus'] = (_c, cb) => cb({ code: grpc.status.NOT_FOUND, details: 'no such image "x"' });
    const r = await rawCall(p.listen, 'ImageStatus', Buffer.alloc(0));
    expect(r.error!.code).toBe(grpc.status.NOT_FOUND);
    expect(r.error!.details).toBe('no such image "x"');
  });

  it("forwards the caller's deadline, and answers DEADLINE_EXCEEDED when the upstream is slower", async () => {
    const p = await start(silent());
    stub.handlers['ImageStatus'] = () => undefined; // never answers
    const before = Date.now();
    const r = await rawCall(p.listen, 'ImageStatus', Buffer.alloc(0), { deadlineMs: 300 });
    expect(r.error!.code).toBe(grpc.status.DEADLINE_EXCEEDED);
    const d = stub.seen[0]!.deadline;
    const upstreamDeadline = d instanceof Date ? d.getTime() : d;
    expect(upstreamDeadline).toBeGreaterThan(before);
    expect(upstreamDeadline).toBeLessThanOrEqual(before + 400);
  });

  it('caps a call without deadline at callTimeoutMs', async () => {
    const p = await start(silent(), { callTimeoutMs: 200 });
    stub.handlers['ImageStatus'] = () => undefined;
    const r = await rawCall(p.listen, 'ImageStatus', Buffer.alloc(0), { deadlineMs: 5000 });
    expect(r.error!.code).toBe(grpc.status.DEADLINE_EXCEEDED);
  });

  it("passes containerd's own UNAVAILABLE through untouched", async () => {
    const p = await start(silent());
    stub.handlers['PullImage'] = (_c, cb) => cb({ code: grpc.status.UNAVAILABLE, details: 'registry unreachable' });
    const r = await rawCall(p.listen, 'PullImage', pullRequest('r.io/a/b:1'));
    expect(r.error!.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error!.details).toBe('registry unreachable');
  });

  it('answers UNAVAILABLE naming the upstream socket when nothing listens there', async () => {
    await stub.close();
    const p = await start(silent(), { upstream: join(dir, 'gone.sock') });
    const r = await rawCall(p.listen, 'ListImages', Buffer.alloc(0));
    expect(r.error!.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error!.details).toContain(join(dir, 'gone.sock'));
  });

  it('answers UNAVAILABLE naming the socket when containerd goes away after serving', async () => {
    const p = await start(silent());
    expect((await rawCall(p.listen, 'ImageFsInfo', Buffer.alloc(0))).error).toBeUndefined();
    await stub.close();
    const r = await rawCall(p.listen, 'ImageFsInfo', Buffer.alloc(0));
    expect(r.error!.code).toBe(grpc.status.UNAVAILABLE);
    expect(r.error!.details).toContain(stub.socket);
    stub = await startStub(dir);
  });

  it('refuses calls beyond maxConcurrentCalls with RESOURCE_EXHAUSTED', async () => {
    const p = await start(silent(), { maxConcurrentCalls: 1 });
    let release: (() => void) | undefined;
    stub.handlers['ImageStatus'] = (_c, cb) => (release = () => cb(null, Buffer.alloc(0)));
    const first = rawCall(p.listen, 'ImageStatus', Buffer.alloc(0));
    while (!release) await new Promise((r) => setTimeout(r, 10));
    const second = await rawCall(p.listen, 'ImageFsInfo', Buffer.alloc(0));
    expect(second.error!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    release();
    expect((await first).error).toBeUndefined();
  });

  it('refuses a request larger than maxMessageBytes', async () => {
    const p = await start(silent(), { maxMessageBytes: 65_536 });
    const r = await rawCall(p.listen, 'PullImage', pullRequest(`x/${'a'.repeat(70_000)}`));
    expect(r.error!.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(stub.seen).toHaveLength(0);
  });

  it('serves its socket with the configured mode', async () => {
    const p = await start(silent(), { socketMode: 0o600 });
    expect((await stat(p.listen)).mode & 0o777).toBe(0o600);
  });
});

describe('credentials', () => {
  const auth = { username: 'alice', password: 's3cret-pass' };

  it('keeps the credentials of a successful pull for the normalized repository, and rotates them', async () => {
    const p = await start(silent());
    expect((await rawCall(p.listen, 'PullImage', pullRequest('busybox:1.36', auth))).error).toBeUndefined();
    expect(p.credentials.current()).toMatchObject([{ host: 'docker.io', repository: 'library/busybox', auth: { kind: 'password', username: 'alice', password: 's3cret-pass' } }]);
    const changes: string[] = [];
    p.credentials.subscribe((c) => changes.push(c.type));
    await rawCall(p.listen, 'PullImage', pullRequest('docker.io/library/busybox@sha256:' + 'a'.repeat(64), { username: 'alice', password: 'n3w-pass' }));
    expect(p.credentials.current()).toMatchObject([{ auth: { password: 'n3w-pass' } }]);
    expect(changes).toEqual(['set']);
  });

  it('holds the credentials while the pull runs (the lazy mounts made during it need them)', async () => {
    const p = await start(silent());
    let during: unknown;
    stub.handlers['PullImage'] = (_c, cb) => {
      during = p.credentials.current();
      cb(null, Buffer.alloc(0));
    };
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/app:v1', auth));
    expect(during).toMatchObject([{ host: '127.0.0.1:5000', repository: 'private/app', auth: { password: 's3cret-pass' } }]);
  });

  it('puts the previous credentials back when a pull with new ones fails', async () => {
    const p = await start(silent());
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/app:v1', auth));
    const changes: string[] = [];
    p.credentials.subscribe((c) => changes.push(c.type === 'set' ? `set ${(c.credentials.auth as { password: string }).password}` : c.type));
    stub.handlers['PullImage'] = (_c, cb) => cb({ code: grpc.status.UNKNOWN, details: 'failed to pull: 401 Unauthorized' });
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/app:v1', { username: 'alice', password: 'wrong' }));
    expect(p.credentials.current()).toMatchObject([{ auth: { password: 's3cret-pass' } }]);
    expect(changes).toEqual(['set wrong', 'set s3cret-pass']);
  });

  it('keeps nothing from a pull that failed, nor from an anonymous one', async () => {
    const p = await start(silent());
    stub.handlers['PullImage'] = (_c, cb) => cb({ code: grpc.status.UNKNOWN, details: 'failed to pull: 401 Unauthorized' });
    expect((await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/app:v1', auth))).error!.code).toBe(grpc.status.UNKNOWN);
    delete stub.handlers['PullImage'];
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/app:v1'));
    expect(p.credentials.current()).toEqual([]);
  });

  it('forgets the repositories RemoveImage left without any image', async () => {
    const p = await start(silent());
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/app:v1', auth));
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/other:v1', auth));
    // the image is removed by ID: what counts is which repositories still have an image
    stub.handlers['ListImages'] = (_c, cb) => cb(null, listResponse(['127.0.0.1:5000/private/other:v1']));
    const r = await rawCall(p.listen, 'RemoveImage', codec('RemoveImage').requestSerialize({ image: { image: 'sha256:' + 'b'.repeat(64) } }));
    expect(r.error).toBeUndefined();
    expect(p.credentials.repositories()).toEqual(['127.0.0.1:5000/private/other']);
  });

  it('keeps credentials when ListImages after a removal fails (until the next removal or the TTL)', async () => {
    const p = await start(silent());
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/app:v1', auth));
    stub.handlers['ListImages'] = (_c, cb) => cb({ code: grpc.status.INTERNAL, details: 'boom' });
    const r = await rawCall(p.listen, 'RemoveImage', codec('RemoveImage').requestSerialize({ image: { image: '127.0.0.1:5000/private/app:v1' } }));
    expect(r.error).toBeUndefined();
    expect(p.credentials.size).toBe(1);
  });

  it('keeps credentials when RemoveImage failed', async () => {
    const p = await start(silent());
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/private/app:v1', auth));
    stub.handlers['RemoveImage'] = (_c, cb) => cb({ code: grpc.status.FAILED_PRECONDITION, details: 'in use' });
    stub.handlers['ListImages'] = (_c, cb) => cb(null, listResponse([]));
    await rawCall(p.listen, 'RemoveImage', codec('RemoveImage').requestSerialize({ image: { image: '127.0.0.1:5000/private/app:v1' } }));
    expect(p.credentials.size).toBe(1);
  });

  it('never logs or answers a secret, even when the upstream error repeats it', async () => {
    const { log, text } = capturingLog();
    const p = await start(log);
    const secrets = { password: 'pw-AAAA-1111', token: 'tok-BBBB-2222', basic: Buffer.from('bob:pw-CCCC-3333').toString('base64') };
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/a/one:v1', { username: 'alice', password: secrets.password }));
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/a/two:v1', { identityToken: secrets.token }));
    await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/a/three:v1', { auth: secrets.basic }));
    stub.handlers['PullImage'] = (_c, cb) => cb({ code: grpc.status.UNKNOWN, details: `bad credentials alice:${secrets.password}` });
    const failed = await rawCall(p.listen, 'PullImage', pullRequest('127.0.0.1:5000/a/one:v1', { username: 'alice', password: secrets.password }));
    stub.handlers['ListImages'] = (_c, cb) => cb(null, listResponse([]));
    await rawCall(p.listen, 'RemoveImage', codec('RemoveImage').requestSerialize({ image: { image: '127.0.0.1:5000/a/one:v1' } }));
    expect(failed.error!.details).not.toContain(secrets.password);
    expect(failed.error!.details).toContain('[redacted]');
    const logged = text();
    expect(logged).toContain('registry credentials learned');
    expect(logged).toContain('registry credentials forgotten');
    for (const s of [secrets.password, secrets.token, secrets.basic, 'pw-CCCC-3333']) expect(logged).not.toContain(s);
    expect(JSON.stringify({ status: p.credentials.repositories() })).not.toContain('pw-');
  });

  it('still forwards a request it cannot decode, learning nothing', async () => {
    const p = await start(silent());
    const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
    stub.handlers['PullImage'] = (_c, cb) => cb({ code: grpc.status.INTERNAL, details: 'upstream could not parse it either' });
    const r = await rawCall(p.listen, 'PullImage', garbage);
    expect(stub.seen[0]!.request.equals(garbage)).toBe(true);
    expect(r.error!.details).toBe('upstream could not parse it either');
    expect(p.credentials.size).toBe(0);
  });
});
