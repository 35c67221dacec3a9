/**
 * A containerd CRI stand-in for the proxy's unit tests: a real grpc-js server on a unix socket
 * serving runtime.v1.ImageService with raw bytes, so a test sees exactly what the proxy sent
 * and decides exactly what comes back. The e2e test (test/e2e/cri-credentials.e2e.sh) runs the
 * real containerd.
 */
import { join } from 'node:path';
import { Writable } from 'node:stream';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import pino from 'pino';
import { rawImageService } from '../../../../core/grpc/cri-image-service.js';
import { LOADER_OPTIONS, protoDir } from '../../../../core/grpc/proto.js';
import { createLogger, type Logger } from '../../../../core/logger.js';

export type StubHandler = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => void;

export interface CriStub {
  socket: string;
  /** Requests seen, per method. */
  seen: { method: string; request: Buffer; metadata: grpc.Metadata; deadline: grpc.Deadline }[];
  handlers: Record<string, StubHandler>;
  close(): Promise<void>;
}

export async function startStub(dir: string): Promise<CriStub> {
  const socket = join(dir, 'containerd.sock');
  const server = new grpc.Server();
  const stub: CriStub = {
    socket,
    seen: [],
    handlers: {},
    close: () => new Promise((done) => server.tryShutdown(() => done())),
  };
  const impl: grpc.UntypedServiceImplementation = {};
  for (const name of Object.keys(rawImageService())) {
    impl[name] = (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      stub.seen.push({ method: name, request: call.request, metadata: call.metadata, deadline: call.getDeadline() });
      const h = stub.handlers[name];
      if (h) h(call, cb);
      else cb(null, Buffer.alloc(0));
    };
  }
  server.addService(rawImageService(), impl);
  await new Promise<void>((done, fail) => server.bindAsync(`unix:${socket}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? fail(err) : done())));
  return stub;
}

type Codec = protoLoader.MethodDefinition<object, object>;
let codecs: Record<string, Codec> | undefined;

/** The proto's own codecs for a method (the tests encode what kubelet would send). */
export function codec(method: string): Codec {
  codecs ??= protoLoader.loadSync('k8s.io/cri-api/pkg/apis/runtime/v1/api.proto', { ...LOADER_OPTIONS, includeDirs: [protoDir()] })['runtime.v1.ImageService'] as unknown as Record<string, Codec>;
  return codecs[method]!;
}

export function pullRequest(image: string, auth?: Record<string, string>): Buffer {
  return codec('PullImage').requestSerialize({ image: { image }, ...(auth ? { auth } : {}) });
}

export function listResponse(tags: string[]): Buffer {
  return codec('ListImages').responseSerialize({ images: tags.map((t, i) => ({ id: `sha256:${String(i).padStart(64, '0')}`, repoTags: [t], repoDigests: [] })) });
}

/** A raw client of the proxy: bytes in, bytes out. */
export function rawCall(socket: string, method: string, request: Buffer, o: { metadata?: grpc.Metadata; deadlineMs?: number } = {}): Promise<{ response?: Buffer; error?: grpc.ServiceError; headers?: grpc.Metadata; trailers?: grpc.Metadata }> {
  const client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure());
  const id = (b: Buffer) => b;
  return new Promise<{ response?: Buffer; error?: grpc.ServiceError; headers?: grpc.Metadata; trailers?: grpc.Metadata }>((done) => {
    const out: { response?: Buffer; error?: grpc.ServiceError; headers?: grpc.Metadata; trailers?: grpc.Metadata } = {};
    const call = client.makeUnaryRequest(`/runtime.v1.ImageService/${method}`, id, id, request, o.metadata ?? new grpc.Metadata(), { deadline: Date.now() + (o.deadlineMs ?? 5000) }, (err, res) => {
      if (err) {
        out.error = err;
        done(out);
      } else out.response = res;
    });
    call.on('metadata', (md) => (out.headers = md));
    call.on('status', (s) => {
      out.trailers = s.metadata;
      if (out.response !== undefined) done(out);
    });
  }).finally(() => client.close());
}

/** A logger at trace level whose every line is kept in `lines` (the real logger, with its redaction). */
export function capturingLog(): { log: Logger; text: () => string } {
  const chunks: string[] = [];
  const dest = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { log: createLogger({ level: 'trace', pretty: false, destination: dest as unknown as pino.DestinationStream }), text: () => chunks.join('') };
}
