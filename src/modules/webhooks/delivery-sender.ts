// One attempt of one delivery over HTTP: undici with an Agent per instance whose connector is the
// SSRF guard (it resolves the host itself and connects only to allowed addresses, rechecking the
// connected socket), connect and response timeouts of WEBHOOK_TIMEOUT_MS (15 s at most), and no
// redirects followed (undici 7 follows none without its redirect interceptor: a 3xx is a failure).
// At most RESPONSE_BODY_LIMIT bytes of the answer are read and kept for the delivery log, within
// WEBHOOK_TIMEOUT_MS of the headers (one sweep timer for all answers being read, not a timer and an
// abort signal per attempt: those cost more than the HMAC).
import { Agent, request } from 'undici';
import { guardedConnector, UnsafeDestination, type Resolver } from '../../lib/ssrf-guard.js';

export const USER_AGENT = 'reseller-api-webhooks/1 (+https://www.standardwebhooks.com/)';
/** Bytes of the receiver's answer read and kept (the rest is dropped). */
export const RESPONSE_BODY_LIMIT = 4_096;

export interface SendResult {
  statusCode: number | null;
  /** Retry-After as the receiver sent it. */
  retryAfter: string | undefined;
  responseBody: string | null;
  error: string | null;
  durationMs: number;
}

export interface Sender {
  /** Sends `body` with `headers` (content-type and user-agent are added to that object). */
  send(url: string, headers: Record<string, string>, body: string): Promise<SendResult>;
  close(): Promise<void>;
}

export interface SenderOptions {
  allowedRanges: readonly string[];
  timeoutMs: number;
  resolver?: Resolver | undefined;
}

/** Why an attempt failed, for the delivery log (no stack, no secrets). */
export function describeError(err: unknown, timeoutMs: number): string {
  const e = err as { code?: string; message?: string; name?: string; cause?: unknown };
  if (err instanceof UnsafeDestination) return `refused by the SSRF guard: ${e.message}`;
  switch (e.code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
      return `timeout: could not connect within ${timeoutMs} ms`;
    case 'UND_ERR_HEADERS_TIMEOUT':
      return `timeout: no response within ${timeoutMs} ms`;
    case 'UND_ERR_BODY_TIMEOUT':
      return `timeout: the response body stalled for ${timeoutMs} ms`;
    case 'ECONNREFUSED':
      return 'connection refused';
    case 'ECONNRESET':
    case 'UND_ERR_SOCKET':
      return 'connection reset by the receiver';
    case 'ENOTFOUND':
      return 'the host name does not resolve';
    default:
      break;
  }
  const cause = e.cause as { code?: string } | undefined;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  return `${e.code ? `${e.code}: ` : ''}${e.message ?? String(err)}`.slice(0, 500);
}

export function createSender(o: SenderOptions): Sender {
  const agent = new Agent({
    connect: guardedConnector({
      allowedRanges: o.allowedRanges,
      timeoutMs: o.timeoutMs,
      ...(o.resolver ? { resolver: o.resolver } : {}),
    }),
    headersTimeout: o.timeoutMs,
    bodyTimeout: o.timeoutMs,
    keepAliveTimeout: 4_000,
  });
  // Answers being read, with the time past which reading stops (a receiver trickling its body).
  const reading = new Map<{ destroy(): unknown }, number>();
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const now = performance.now();
    for (const [body, deadline] of reading) if (deadline <= now) body.destroy();
    if (reading.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  const readAnswer = async (body: Body): Promise<string | null> => {
    reading.set(body, performance.now() + o.timeoutMs);
    sweeper ??= setInterval(sweep, Math.min(1_000, o.timeoutMs)).unref();
    try {
      return await readLimited(body);
    } finally {
      reading.delete(body);
    }
  };
  return {
    async send(url, headers, body) {
      const started = performance.now();
      try {
        headers['content-type'] = 'application/json';
        headers['user-agent'] = USER_AGENT;
        const res = await request(url, { method: 'POST', dispatcher: agent, headers, body });
        const responseBody = await readAnswer(res.body);
        const retryAfter = res.headers['retry-after'];
        return {
          statusCode: res.statusCode,
          retryAfter: Array.isArray(retryAfter) ? retryAfter[0] : retryAfter,
          responseBody,
          error: null,
          durationMs: performance.now() - started,
        };
      } catch (err) {
        return {
          statusCode: null,
          retryAfter: undefined,
          responseBody: null,
          error: describeError(err, o.timeoutMs),
          durationMs: performance.now() - started,
        };
      }
    },
    close: () => {
      clearInterval(sweeper);
      return agent.close();
    },
  };
}

type Body = NodeJS.ReadableStream & { destroy(): unknown };

/** The first RESPONSE_BODY_LIMIT bytes of the body as text (null when empty); the rest is not read. */
function readLimited(body: Body): Promise<string | null> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      body.removeListener('data', onData);
      if (size === 0) return resolve(null);
      // NUL cannot be stored in a text column: the replacement character stands in for it.
      resolve(Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8').replace(/\0/g, '\uFFFD'));
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size >= RESPONSE_BODY_LIMIT) {
        body.destroy();
        finish();
      }
    };
    body.on('data', onData);
    // A body cut short (an error, the sweep) still leaves what was read.
    body.once('end', finish);
    body.once('error', finish);
    body.once('close', finish);
  });
}
