/**
 * Test helper: a fake containerd on a unix socket, a real grpc-js server with containerd's
 * version and introspection services (answers given by the test). No CRI: a CRI call to it is
 * UNIMPLEMENTED, as on a containerd with CRI disabled.
 */
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { LOADER_OPTIONS, protoDir } from '../../../../core/grpc/proto.js';

export interface FakeContainerd {
  version?: string;
  plugins?: grpc.handleUnaryCall<{ filters: string[] }, unknown>;
  server?: object;
}

export async function serveFakeContainerd(address: string, fake: FakeContainerd): Promise<grpc.Server> {
  const def = protoLoader.loadSync(['containerd/services/introspection/v1/introspection.proto', 'containerd/services/version/v1/version.proto'], { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
  const server = new grpc.Server();
  server.addService(def['containerd.services.version.v1.Version'] as grpc.ServiceDefinition, {
    Version: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { version: fake.version ?? 'v2.1.9', revision: 'abc' }),
  });
  server.addService(def['containerd.services.introspection.v1.Introspection'] as grpc.ServiceDefinition, {
    Plugins: fake.plugins ?? ((_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, { plugins: [] })),
    Server: (_c: unknown, cb: grpc.sendUnaryData<unknown>) => cb(null, fake.server ?? { uuid: 'u' }),
  });
  await new Promise<void>((resolve, reject) => server.bindAsync(`unix://${address}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())));
  return server;
}
