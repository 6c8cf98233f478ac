// A real SMTP server on loopback (the smtp-server package) that keeps what it receives, for tests of
// e-mail notifications. Port 0: the system picks a free port. No TLS, no authentication needed.
// `refuse` makes it refuse the next recipients (e.g. 451, a temporary failure) to test retries.
import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface ReceivedMail {
  /** The envelope's sender and recipients (MAIL FROM, RCPT TO). */
  mailFrom: string;
  rcptTo: string[];
  /** Header names in lower case, values unfolded and RFC 2047-decoded. */
  headers: Map<string, string>;
  /** The text body, transfer-decoded. */
  text: string;
  raw: string;
}

export interface SmtpReceiver {
  url: string;
  port: number;
  messages: ReceivedMail[];
  /** Refuse the next `times` RCPT TO commands with this reply code (4xx: try again later). */
  refuse(times: number, code?: number, message?: string): void;
  /** Recipients refused so far. */
  refused: string[];
}

interface Teardown {
  teardown(fn: () => unknown): void;
}

export async function smtpReceiver(t: Teardown): Promise<SmtpReceiver> {
  const messages: ReceivedMail[] = [];
  const refused: string[] = [];
  let refusals = { times: 0, code: 451, message: 'try again later' };
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    disableReverseLookup: true,
    onRcptTo(address, _session, callback) {
      if (refusals.times > 0) {
        refusals.times--;
        refused.push(address.address);
        const err = Object.assign(new Error(refusals.message), { responseCode: refusals.code });
        return callback(err);
      }
      callback();
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const mailFrom = session.envelope.mailFrom ? session.envelope.mailFrom.address : '';
        messages.push({ ...parseMessage(raw), raw, mailFrom, rcptTo: session.envelope.rcptTo.map((r) => r.address) });
        callback();
      });
    },
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.server.address() as AddressInfo).port;
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return {
    url: `smtp://127.0.0.1:${port}`,
    port,
    messages,
    refused,
    refuse(times, code = 451, message = 'try again later') {
      refusals = { times, code, message };
    },
  };
}

/** RFC 2047 encoded words (=?utf-8?B?...?= and =?utf-8?Q?...?=). */
function decodeWords(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, '?==?')
    .replace(/=\?([^?]+)\?([bBqQ])\?([^?]*)\?=/g, (_m, _charset: string, enc: string, text: string) =>
      enc.toUpperCase() === 'B'
        ? Buffer.from(text, 'base64').toString('utf8')
        : decodeQuotedPrintable(text.replace(/_/g, ' ')),
    );
}

function decodeQuotedPrintable(text: string): string {
  const bytes: number[] = [];
  const src = text.replace(/=\r?\n/g, '');
  for (let i = 0; i < src.length; i++) {
    if (src[i] === '=' && /^[0-9A-F]{2}$/i.test(src.slice(i + 1, i + 3))) {
      bytes.push(parseInt(src.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(src[i]!, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Headers and the text body of a single-part message (what the notifications send). */
export function parseMessage(raw: string): { headers: Map<string, string>; text: string } {
  const split = raw.indexOf('\r\n\r\n');
  const head = raw.slice(0, split).replace(/\r\n[ \t]+/g, ' ');
  const body = raw.slice(split + 4);
  const headers = new Map<string, string>();
  for (const line of head.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) headers.set(line.slice(0, colon).trim().toLowerCase(), decodeWords(line.slice(colon + 1).trim()));
  }
  const encoding = (headers.get('content-transfer-encoding') ?? '7bit').toLowerCase();
  const decoded =
    encoding === 'quoted-printable'
      ? decodeQuotedPrintable(body)
      : encoding === 'base64'
        ? Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8')
        : body;
  return { headers, text: decoded.replace(/\r\n/g, '\n') };
}
