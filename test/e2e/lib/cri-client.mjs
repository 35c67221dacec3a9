#!/usr/bin/env node
// A small Kubernetes CRI client (runtime.v1, the subset in proto/k8s.io/cri-api/...): what kubelet
// would call, one call per run, so a bash e2e can drive containerd's CRI plugin step by step.
//   node cri-client.mjs ADDRESS METHOD [REQUEST_JSON] [TIMEOUT_SECONDS]
// METHOD is a RuntimeService or ImageService method of that proto (Version, Status, PullImage,
// RunPodSandbox, ...); REQUEST_JSON is the request with the proto's own (snake_case) field names
// (default {}). Prints the response as one line of JSON (bytes fields as UTF-8 text, 64-bit
// integers as strings, enums by name) and exits 0; on a gRPC error prints
// `METHOD: CODE_NAME: details` on stderr and exits 1; a bad argument exits 2.
// The deadline (default 120 s, at most 600) bounds every call.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';

const CRI_PROTO = 'k8s.io/cri-api/pkg/apis/runtime/v1/api.proto';

/** Loads the CRI proto once; returns the two service client constructors. */
export function criServices() {
  const protoDir = join(dirname(fileURLToPath(import.meta.url)), '../../../proto');
  const definition = protoLoader.loadSync(CRI_PROTO, {
    includeDirs: [protoDir],
    keepCase: true,
    longs: String,
    enums: String,
    defaults: true,
  });
  const v1 = grpc.loadPackageDefinition(definition).runtime.v1;
  return { RuntimeService: v1.RuntimeService, ImageService: v1.ImageService };
}

/** `{ client, service }` for METHOD, or undefined when neither service has it. */
export function clientFor(address, method) {
  const services = criServices();
  for (const [service, Ctor] of Object.entries(services)) {
    if (typeof Ctor.service[method] === 'object') {
      return { service, client: new Ctor(`unix://${address}`, grpc.credentials.createInsecure()) };
    }
  }
  return undefined;
}

/** One unary call with a deadline; resolves the response, rejects a gRPC error. */
export function call(client, method, request, timeoutSeconds) {
  return new Promise((resolve, reject) => {
    client[method](request, { deadline: Date.now() + timeoutSeconds * 1000 }, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

function usage(message) {
  console.error(`cri-client.mjs: ${message}\nusage: cri-client.mjs ADDRESS METHOD [REQUEST_JSON] [TIMEOUT_SECONDS]`);
  process.exit(2);
}

async function main(argv) {
  const [address, method, json = '{}', timeoutArg = '120'] = argv;
  if (!address || !method) usage('ADDRESS and METHOD are required');
  if (!address.startsWith('/')) usage(`ADDRESS must be an absolute socket path, not '${address}'`);
  const timeout = Number(timeoutArg);
  if (!Number.isFinite(timeout) || timeout <= 0 || timeout > 600) usage(`TIMEOUT_SECONDS must be in (0, 600], not '${timeoutArg}'`);
  let request;
  try {
    request = JSON.parse(json);
  } catch (err) {
    usage(`REQUEST_JSON is not JSON: ${err.message}`);
  }
  if (typeof request !== 'object' || request === null || Array.isArray(request)) usage('REQUEST_JSON must be a JSON object');
  const target = clientFor(address, method);
  if (!target) usage(`no RuntimeService or ImageService method '${method}' in ${CRI_PROTO}`);
  try {
    const res = await call(target.client, method, request, timeout);
    console.log(JSON.stringify(res, (_key, value) => (value && value.type === 'Buffer' && Array.isArray(value.data) ? Buffer.from(value.data).toString('utf8') : value)));
  } catch (err) {
    console.error(`${target.service}.${method}: ${grpc.status[err.code] ?? err.code}: ${err.details ?? err.message}`);
    process.exitCode = 1;
  } finally {
    target.client.close();
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main(process.argv.slice(2));
