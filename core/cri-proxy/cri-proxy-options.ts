/**
 * The top-level `criProxy` option: snaphost serves Kubernetes' CRI `runtime.v1.ImageService` on
 * `listen` (kubelet's `--image-service-endpoint`) and forwards every call to containerd's CRI on
 * `upstream`, learning each pulled image's registry credentials for the lazy backends
 * (core/cri-proxy/serve-cri-proxy.ts). Absent: no proxy. Every bound has a default:
 *
 * | option             | default       | bounds                                                     |
 * |--------------------|---------------|------------------------------------------------------------|
 * | socketMode         | `socketMode`  | file mode of `listen` (kubelet runs as root: 0o660 is enough) |
 * | credentialsTtlMs   | 7 days        | credentials not renewed by a pull for this long are forgotten |
 * | maxRepositories    | 1024          | repositories with credentials kept (the oldest is dropped) |
 * | maxMessageBytes    | 16 MiB        | one request or response (kubelet's own limit is 16 MiB)    |
 * | maxConcurrentCalls | 64            | calls in flight; more are answered RESOURCE_EXHAUSTED      |
 * | callTimeoutMs      | 2 min         | deadline of a forwarded call (kubelet's runtime-request-timeout) |
 * | pullTimeoutMs      | 1 h           | deadline of a forwarded PullImage (kubelet sets none)      |
 *
 * A client deadline shorter than these is kept.
 */
import { z } from 'zod';

const socketPath = z
  .string()
  .min(1, 'must not be empty')
  .refine((p) => !p.includes('\0'), 'must not contain a NUL byte');

const DAY_MS = 86_400_000;

export const criProxySchema = z
  .object({
    listen: socketPath,
    upstream: socketPath,
    socketMode: z.number().int().min(0).max(0o777, 'must be a file mode between 0 and 0o777').optional(),
    credentialsTtlMs: z.number().int().min(1000).max(90 * DAY_MS).default(7 * DAY_MS),
    maxRepositories: z.number().int().positive().max(100_000).default(1024),
    maxMessageBytes: z.number().int().min(65_536).max(256 * 1024 * 1024).default(16 * 1024 * 1024),
    maxConcurrentCalls: z.number().int().positive().max(10_000).default(64),
    callTimeoutMs: z.number().int().positive().max(3_600_000).default(120_000),
    pullTimeoutMs: z.number().int().positive().max(DAY_MS).default(3_600_000),
  })
  .strict();

export type CriProxyInput = z.input<typeof criProxySchema>;

/** `criProxy` after resolution: paths absolute, every default applied, `socketMode` filled from the host's. */
export type CriProxyOptions = Omit<z.output<typeof criProxySchema>, 'socketMode'> & { socketMode: number };
