/**
 * The proxy's client of containerd's CRI socket: one channel for the proxy's life, raw bytes
 * in and out. `forward` is one unary call with the caller's metadata and deadline, giving back
 * the response (or the error) with the upstream's headers and trailers; the typed helpers are
 * the proxy's own ListImages call (core/grpc/cri-image-service.ts decodes them).
 */
import * as grpc from '@grpc/grpc-js';
import { decodeListImagesResponse, encodeListImages, imageMethodPath, type ImageNames } from '../grpc/cri-image-service.js';

export interface ForwardResult {
  error?: grpc.ServiceError;
  response?: Buffer;
  /** Response headers, when the upstream sent any. */
  headers?: grpc.Metadata;
  /** Trailers of a successful call. */
  trailers?: grpc.Metadata;
}

export interface ForwardOptions {
  metadata: grpc.Metadata;
  deadline: number;
  /** Aborted when the proxy's caller cancelled. */
  signal?: AbortSignal;
}

const identity = (b: Buffer): Buffer => b;

export class Upstream {
  readonly socket: string;
  readonly #client: grpc.Client;

  constructor(socket: string, maxMessageBytes: number) {
    this.socket = socket;
    this.#client = new grpc.Client(`unix://${socket}`, grpc.credentials.createInsecure(), {
      'grpc.max_receive_message_length': maxMessageBytes,
      'grpc.max_send_message_length': maxMessageBytes,
    });
  }

  forward(path: string, request: Buffer, o: ForwardOptions): Promise<ForwardResult> {
    return new Promise((done) => {
      const result: ForwardResult = {};
      let finished = false;
      const finish = () => {
        if (finished) return;
        finished = true;
        o.signal?.removeEventListener('abort', onAbort);
        done(result);
      };
      const call = this.#client.makeUnaryRequest(path, identity, identity, request, o.metadata, { deadline: o.deadline }, (err, res) => {
        if (err) result.error = err;
        else result.response = res;
        // The status (with trailers) may come after the callback; wait for it briefly below.
        if (result.trailers !== undefined || err) finish();
      });
      call.on('metadata', (md: grpc.Metadata) => (result.headers = md));
      call.on('status', (s: grpc.StatusObject) => {
        if (s.code === grpc.status.OK) result.trailers = s.metadata;
        if (result.response !== undefined || result.error !== undefined) finish();
      });
      const onAbort = () => call.cancel();
      if (o.signal?.aborted) call.cancel();
      else o.signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  /** Every image's names. Throws the upstream's error. */
  async listImages(deadline: number): Promise<ImageNames[]> {
    const r = await this.forward(imageMethodPath('ListImages'), encodeListImages(), { metadata: new grpc.Metadata(), deadline });
    if (r.error) throw r.error;
    return decodeListImagesResponse(r.response!);
  }

  /** Whether the channel to the socket is connected (an error then came from containerd, not from the connection). */
  connected(): boolean {
    return this.#client.getChannel().getConnectivityState(false) === grpc.connectivityState.READY;
  }

  close(): void {
    this.#client.close();
  }
}
