/**
 * A reverse proxy on 127.0.0.1 in front of a registry that demands authorization, the way
 * Docker Hub does: `Bearer` tokens issued by its own `/token` endpoint (short expiry on
 * request, optional Basic credentials at the token endpoint), or plain `Basic` auth. Records
 * every request. Issue 5 reuses it for expiring credentials.
 */
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';
import { listen, type TestServer } from './listen.js';

export interface AuthProxyOptions {
  /** `http://127.0.0.1:<port>` of the registry behind. */
  upstream: string;
  /** `none`: a plain recording proxy. */
  scheme: 'bearer' | 'basic' | 'none';
  /** Lifetime of issued tokens, seconds (also sent as `expires_in`). */
  tokenTtlSeconds?: number;
  /** Send `expires_in` in token answers (default true). */
  sendExpiresIn?: boolean;
  /** Credentials required: at /token for bearer, on every request for basic. */
  credentials?: { username: string; password: string };
  /** A refresh token the OAuth2 form (`POST /token`, grant_type=refresh_token) accepts. */
  refreshToken?: string;
  service?: string;
}

export interface RecordedRequest {
  method: string;
  path: string;
  authorization: string | undefined;
  range: string | undefined;
  status: number;
}

export interface AuthProxy extends TestServer {
  requests: RecordedRequest[];
  /** Token requests seen: method, query (GET) or form (POST), and authorization. */
  tokenRequests: { method: string; query: URLSearchParams; authorization: string | undefined }[];
  /** Invalidates every issued token at once (a server that rotates its keys). */
  revokeAll(): void;
  /** Accepts only these credentials from now on (a rotated password). */
  setCredentials(c: { username: string; password: string }): void;
}

export async function startAuthProxy(opts: AuthProxyOptions): Promise<AuthProxy> {
  const ttl = opts.tokenTtlSeconds ?? 60;
  const service = opts.service ?? 'snaphost-test-registry';
  const tokens = new Map<string, number>(); // token -> expiry (ms)
  const requests: RecordedRequest[] = [];
  const tokenRequests: AuthProxy['tokenRequests'] = [];
  const encode = (c: { username: string; password: string }) => `Basic ${Buffer.from(`${c.username}:${c.password}`).toString('base64')}`;
  let basic = opts.credentials ? encode(opts.credentials) : undefined;
  let origin = '';

  const server = await listen((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    const record = (status: number) =>
      requests.push({
        method: req.method ?? '',
        path: url.pathname,
        authorization: req.headers.authorization,
        range: req.headers.range,
        status,
      });

    if (url.pathname === '/token' && req.method === 'POST') {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
        tokenRequests.push({ method: 'POST', query: form, authorization: req.headers.authorization });
        const ok =
          req.headers['content-type'] === 'application/x-www-form-urlencoded' &&
          form.get('grant_type') === 'refresh_token' &&
          opts.refreshToken !== undefined &&
          form.get('refresh_token') === opts.refreshToken &&
          form.get('client_id') !== null;
        if (!ok) return void res.writeHead(401, { 'content-type': 'application/json' }).end('{"error":"invalid_grant"}');
        const token = randomBytes(16).toString('hex');
        tokens.set(token, Date.now() + ttl * 1000);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ access_token: token, expires_in: ttl }));
      });
      return;
    }

    if (url.pathname === '/token') {
      tokenRequests.push({ method: 'GET', query: url.searchParams, authorization: req.headers.authorization });
      if (basic !== undefined && req.headers.authorization !== basic) {
        res.writeHead(401, { 'content-type': 'application/json' }).end('{"details":"bad credentials"}');
        return;
      }
      const token = randomBytes(16).toString('hex');
      tokens.set(token, Date.now() + ttl * 1000);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, ...(opts.sendExpiresIn === false ? {} : { expires_in: ttl }), issued_at: new Date().toISOString() }));
      return;
    }

    const repo = /^\/v2\/(.+)\/blobs\//.exec(url.pathname)?.[1];
    const given = req.headers.authorization;
    let ok: boolean;
    if (opts.scheme === 'none') {
      ok = true;
    } else if (opts.scheme === 'basic') {
      ok = given !== undefined && given === basic;
    } else {
      const token = given?.startsWith('Bearer ') ? given.slice(7) : undefined;
      const expiry = token === undefined ? undefined : tokens.get(token);
      ok = expiry !== undefined && expiry > Date.now();
    }
    if (!ok) {
      record(401);
      const challenge =
        opts.scheme === 'basic'
          ? 'Basic realm="snaphost-test"'
          : `Bearer realm="${origin}/token",service="${service}"${repo ? `,scope="repository:${repo}:pull"` : ''}`;
      res.writeHead(401, { 'www-authenticate': challenge, 'content-type': 'application/json' });
      res.end('{"errors":[{"code":"UNAUTHORIZED"}]}');
      return;
    }
    proxy(opts.upstream, req, (status) => record(status), res);
  });
  origin = server.origin;
  return {
    ...server,
    requests,
    tokenRequests,
    revokeAll: () => tokens.clear(),
    setCredentials: (c) => {
      basic = encode(c);
    },
  };
}

function proxy(upstream: string, req: IncomingMessage, onStatus: (status: number) => void, res: import('node:http').ServerResponse): void {
  const headers = { ...req.headers };
  delete headers.authorization;
  delete headers.host;
  const up = httpRequest(`${upstream}${req.url ?? '/'}`, { method: req.method, headers }, (upRes) => {
    onStatus(upRes.statusCode ?? 0);
    res.writeHead(upRes.statusCode ?? 502, upRes.headers);
    upRes.pipe(res);
  });
  up.on('error', (err) => {
    onStatus(502);
    if (!res.headersSent) res.writeHead(502);
    res.end(String(err));
  });
  req.pipe(up);
}
