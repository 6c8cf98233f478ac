// What an operator reads when the server or the CLI cannot start for a reason of their making:
// one line on stderr naming the variable to change and how, never a stack trace. A failure not
// recognised here is a bug, and keeps its stack.
import { createServer } from 'node:net';
import { DataDirInUse } from './db/data-dir-lock.js';

/** A start refused for a reason the operator fixes; the message is the line to print. */
export class StartupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StartupError';
  }
}

interface Where {
  databaseUrl: string | undefined;
  host: string;
  port: number;
}

/** host:port, user and database of a DATABASE_URL, never its password. */
function describeDatabase(url: string): { at: string; user: string; database: string; host: string; port: string } {
  const u = new URL(url);
  const host = u.hostname || 'localhost';
  const port = u.port || '5432';
  return {
    at: `${host}:${port}`,
    user: decodeURIComponent(u.username) || 'postgres',
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || 'postgres',
    host,
    port,
  };
}

/** The error and its causes (drizzle wraps driver errors in `cause`; pg's pool in AggregateError). */
function chain(err: unknown): Array<{ code?: string; message?: string }> {
  const out: Array<{ code?: string; message?: string }> = [];
  const seen = new Set<unknown>();
  const visit = (e: unknown) => {
    if (!e || typeof e !== 'object' || seen.has(e)) return;
    seen.add(e);
    out.push(e);
    visit((e as { cause?: unknown }).cause);
    for (const inner of (e as { errors?: unknown[] }).errors ?? []) visit(inner);
  };
  visit(err);
  return out;
}

const UNREACHABLE = new Set([
  'ECONNREFUSED',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ETIMEDOUT',
  'ECONNRESET',
]);

/** The one line to print for a start that failed because of the setup, or null for a bug. */
export function explainStartupFailure(err: unknown, where: Where): string | null {
  if (err instanceof StartupError || err instanceof DataDirInUse) return err.message;
  const errors = chain(err);
  const code = (c: string) => errors.find((e) => e.code === c);
  if (where.databaseUrl !== undefined) {
    const db = describeDatabase(where.databaseUrl);
    if (code('3D000')) {
      return `DATABASE_URL: database "${db.database}" does not exist on ${db.at}; create it (createdb -h ${db.host} -p ${db.port} -U ${db.user} ${db.database}) or name an existing one in DATABASE_URL`;
    }
    if (code('28P01') || code('28000')) {
      return `DATABASE_URL: PostgreSQL at ${db.at} refused user "${db.user}" (${(code('28P01') ?? code('28000'))!.message}); fix the user or password in DATABASE_URL`;
    }
    const unreachable = errors.find(
      (e) =>
        (e.code && UNREACHABLE.has(e.code)) ||
        /timeout exceeded when trying to connect|Connection terminated/i.test(e.message ?? ''),
    );
    if (unreachable) {
      return `DATABASE_URL: cannot reach PostgreSQL at ${db.at} (${unreachable.code ?? unreachable.message}); start PostgreSQL or fix the host and port in DATABASE_URL`;
    }
  }
  const listen = errors.find((e) => (e as { syscall?: string }).syscall === 'listen');
  if (listen?.code === 'EADDRINUSE')
    return `PORT: ${where.host}:${where.port} is already in use (another server running?); stop it or set PORT to a free port`;
  if (listen?.code === 'EACCES')
    return `PORT: no permission to listen on port ${where.port}; set PORT to 1024 or above`;
  if (listen?.code === 'EADDRNOTAVAIL')
    return `HOST: ${where.host} is not an address of this machine; set HOST to one of its addresses (127.0.0.1, 0.0.0.0)`;
  const file = errors.find(
    (e) => e.code === 'EACCES' || e.code === 'EROFS' || e.code === 'ENOSPC' || e.code === 'EPERM',
  ) as { code: string; path?: string } | undefined;
  if (file?.path !== undefined)
    return `DATA_DIR: cannot write ${file.path} (${file.code}); give this user write access there or set DATA_DIR to a directory it may write`;
  return null;
}

/**
 * Fails before anything else is opened when the port cannot be had, so that a second server is
 * refused without touching the database. (The real listen can still lose a race; that failure is
 * explained the same way.)
 */
export function assertCanListen(host: string, port: number): Promise<void> {
  if (port === 0) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', (err) =>
      reject(
        new StartupError(
          explainStartupFailure(err, { databaseUrl: undefined, host, port }) ??
            `PORT: cannot listen on ${host}:${port} (${err.message})`,
        ),
      ),
    );
    probe.listen({ host, port, exclusive: true }, () => probe.close(() => resolve()));
  });
}
