// One attempt of one delivery over HTTP: undici with an Agent per instance whose connector is the
// SSRF guard (it resolves the host itself and connects only to allowed addresses, rechecking the
// connected socket), connect and response timeouts of WEBHOOK_TIMEOUT_MS (15 s at most), and no
// redirects followed (undici 7 follows none without its redirect interceptor: a 3xx is a failure).
// At most RESPONSE_BODY_LIMIT bytes of the answer are read and kept for the delivery log, within
// WEBHOOK_TIMEOUT_MS of its status line (one sweep timer for all answers being read, not a timer and
// an abort signal per attempt: those cost more than the HMAC).
import { Agent, type Dispatcher } from 'undici';
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
  const reading = new Map<Dispatcher.DispatchController, number>();
  let sweeper: NodeJS.Timeout | undefined;
  const sweep = () => {
    const now = performance.now();
    for (const [controller, deadline] of reading) if (deadline <= now) controller.abort(ENOUGH);
    if (reading.size === 0) {
      clearInterval(sweeper);
      sweeper = undefined;
    }
  };
  // origin and path per URL (an endpoint's URL is sent to again and again).
  const targets = new Map<string, { origin: string; path: string }>();
  const targetOf = (url: string) => {
    let t = targets.get(url);
    if (!t) {
      const u = new URL(url);
      t = { origin: u.origin, path: `${u.pathname}${u.search}` };
      if (targets.size >= 10_000) targets.clear();
      targets.set(url, t);
    }
    return t;
  };
  return {
    send(url, headers, body) {
      const started = performance.now();
      headers['content-type'] = 'application/json';
      headers['user-agent'] = USER_AGENT;
      return new Promise<SendResult>((resolve) => {
        let statusCode: number | null = null;
        let retryAfter: string | undefined;
        const chunks: Buffer[] = [];
        let size = 0;
        let settled = false;
        const finish = (error: string | null, controller?: Dispatcher.DispatchController) => {
          if (settled) return;
          settled = true;
          if (controller) reading.delete(controller);
          resolve({
            statusCode: error === null ? statusCode : null,
            retryAfter: error === null ? retryAfter : undefined,
            responseBody: error === null ? answerText(chunks, size) : null,
            error,
            durationMs: performance.now() - started,
          });
        };
        try {
          const { origin, path } = targetOf(url);
          // dispatch with a handler of our own, not request(): no response stream and no promise
          // per attempt (measured: half the client CPU of request() per POST on loopback).
          agent.dispatch(
            { origin, path, method: 'POST', headers, body },
            {
              // Its presence tells undici this handler speaks the controller API.
              onRequestStart() {},
              onResponseStart(controller, status, responseHeaders) {
                if (status < 200) return; // 1xx: the answer is still to come
                statusCode = status;
                const ra = responseHeaders['retry-after'];
                retryAfter = Array.isArray(ra) ? ra[0] : ra;
                reading.set(controller, performance.now() + o.timeoutMs);
                sweeper ??= setInterval(sweep, Math.min(1_000, o.timeoutMs)).unref();
              },
              onResponseData(controller, chunk) {
                chunks.push(chunk);
                size += chunk.length;
                // Enough read: the rest of the answer is not.
                if (size >= RESPONSE_BODY_LIMIT) controller.abort(ENOUGH);
              },
              onResponseEnd(controller) {
                finish(null, controller);
              },
              onResponseError(controller, err) {
                // After the status line, an answer cut short (by us past the limit or the deadline,
                // or by the receiver) is still the answer: its status and what was read.
                finish(statusCode !== null ? null : describeError(err, o.timeoutMs), controller);
              },
            },
          );
        } catch (err) {
          finish(describeError(err, o.timeoutMs));
        }
      });
    },
    close: () => {
      clearInterval(sweeper);
      return agent.close();
    },
  };
}

/** Aborts reading an answer: the limit is reached, or its time is up. */
const ENOUGH = new Error('answer read');

/** The first RESPONSE_BODY_LIMIT bytes of an answer as text (null when empty). */
function answerText(chunks: readonly Buffer[], size: number): string | null {
  if (size === 0) return null;
  // NUL cannot be stored in a text column: the replacement character stands in for it.
  return Buffer.concat(chunks).subarray(0, RESPONSE_BODY_LIMIT).toString('utf8').replace(/\0/g, '\uFFFD');
}
