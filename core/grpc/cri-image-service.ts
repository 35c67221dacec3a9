/**
 * Kubernetes' CRI `runtime.v1.ImageService` for the CRI proxy (core/cri-proxy/): the service
 * definition it serves with raw bytes in and out (so a field the proto here does not know
 * passes through untouched), and the few messages it reads or writes itself, as plain values
 * (no proto type leaves this file): the image and AuthConfig of a PullImage, the image of a
 * RemoveImage, and the ListImages call the proxy makes itself.
 */
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import type { CriAuthConfig } from '../cri-proxy/auth-config.js';
import { LOADER_OPTIONS, protoDir } from './proto.js';

export const IMAGE_SERVICE = 'runtime.v1.ImageService';
const CRI_PROTO = 'k8s.io/cri-api/pkg/apis/runtime/v1/api.proto';

type Method = protoLoader.MethodDefinition<object, object>;

let methods: Record<string, Method> | undefined;

function imageMethods(): Record<string, Method> {
  if (!methods) {
    const definition = protoLoader.loadSync(CRI_PROTO, { ...LOADER_OPTIONS, includeDirs: [protoDir()] });
    const service = definition[IMAGE_SERVICE];
    if (!service || 'format' in service) throw new Error(`${CRI_PROTO} does not define service ${IMAGE_SERVICE}`);
    methods = service as unknown as Record<string, Method>;
  }
  return methods;
}

const identity = (b: Buffer): Buffer => b;

/** Every ImageService method, unary, serialized as the raw message bytes. */
export function rawImageService(): grpc.ServiceDefinition {
  const raw: Record<string, grpc.MethodDefinition<Buffer, Buffer>> = {};
  for (const [name, m] of Object.entries(imageMethods())) {
    if (m.requestStream || m.responseStream) throw new Error(`${IMAGE_SERVICE}.${name} streams; the proxy forwards unary calls only`);
    raw[name] = {
      path: m.path,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
      originalName: m.originalName,
    };
  }
  return raw;
}

/** The path of a method (`/runtime.v1.ImageService/PullImage`). */
export function imageMethodPath(name: 'ListImages' | 'PullImage' | 'RemoveImage'): string {
  return imageMethods()[name]!.path;
}

interface DecodedSpec {
  image?: { image?: string };
}

/** What a PullImage request asks for: the image reference and its AuthConfig (if any). Throws on bytes that are not one. */
export function decodePullImage(request: Buffer): { image: string; auth?: CriAuthConfig } {
  const r = imageMethods()['PullImage']!.requestDeserialize(request) as DecodedSpec & { auth?: CriAuthConfig | null };
  return { image: r.image?.image ?? '', ...(r.auth ? { auth: r.auth } : {}) };
}

/** The image a RemoveImage request names (a reference, an ID or a digest). */
export function decodeRemoveImage(request: Buffer): { image: string } {
  const r = imageMethods()['RemoveImage']!.requestDeserialize(request) as DecodedSpec;
  return { image: r.image?.image ?? '' };
}

/** The names an image is known by. */
export interface ImageNames {
  id: string;
  repoTags: string[];
  repoDigests: string[];
}

export function encodeListImages(): Buffer {
  return imageMethods()['ListImages']!.requestSerialize({});
}

export function decodeListImagesResponse(response: Buffer): ImageNames[] {
  const r = imageMethods()['ListImages']!.responseDeserialize(response) as { images?: Partial<ImageNames>[] };
  return (r.images ?? []).map(names);
}

function names(i: Partial<ImageNames>): ImageNames {
  return { id: i.id ?? '', repoTags: i.repoTags ?? [], repoDigests: i.repoDigests ?? [] };
}
