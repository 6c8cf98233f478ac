// An event as a plain-text e-mail a person can read (issue 13 item 7): a subject from the event's
// type and object ("[Reseller API] Domain example.com registered"), and a body that says what
// happened, when (UTC), about which object, the event's data as indented "key: value" lines (no
// JSON), the event id and where to fetch the whole event. Keys come in the order of the type's data
// schema (the order the API shows), others after them alphabetically. Pure: no I/O.
import { minorUnits } from '../../lib/currencies.js';
import { namedSchemas } from '../../schemas.js';

export interface RenderedEvent {
  id: string;
  type: string;
  /** The event type's one-line summary (undefined: a type no longer in the catalogue). */
  summary: string | undefined;
  group: string | undefined;
  objectType: string;
  objectId: string;
  objectSequence: number;
  createdAt: Date;
  data: unknown;
  /** The JSON Schema of `data` (the event type's), for the order of keys. */
  dataSchema?: unknown;
  accountName: string | undefined;
}

export interface RenderOptions {
  /** PUBLIC_URL without a trailing slash; undefined: the pointer is a bare path. */
  publicUrl: string | undefined;
}

export interface RenderedMail {
  subject: string;
  text: string;
}

const SUBJECT_PREFIX = '[Reseller API]';
const MAX_SUBJECT = 200;
/** Lines of data shown at most; the rest is in the event itself. */
const MAX_DATA_LINES = 200;
const MAX_DEPTH = 8;
const MAX_VALUE = 500;

const words = (snake: string) => snake.replace(/[_.-]+/g, ' ').trim();
const capitalised = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/** One line: control characters (a newline in a value) become spaces, long values are cut. */
const oneLine = (s: string, max = MAX_VALUE) => {
  // eslint-disable-next-line no-control-regex
  const flat = s.replace(/[\u0000-\u001f\u007f\u2028\u2029]+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
};

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

/** 2026-12-03 03:23:09 UTC */
export const utc = (d: Date): string => `${d.toISOString().slice(0, 19).replace('T', ' ')} UTC`;

/**
 * "Domain example.com registered": the object type, the object id and what happened (the type's
 * last segment, without the object's own name: abuse.complaint_filed about an abuse_complaint is
 * "filed"). A uuid object id is followed by the domain name the data names, if any.
 */
export function subjectOf(e: Pick<RenderedEvent, 'type' | 'objectType' | 'objectId' | 'data'>): string {
  const segments = e.type.split('.');
  let what = segments.slice(1).join(' ');
  const noun = e.objectType.split('_').at(-1) ?? '';
  if (noun && what.startsWith(`${noun}_`)) what = what.slice(noun.length + 1);
  const about = UUID.test(e.objectId) ? domainNamed(e.data) : undefined;
  const subject = `${SUBJECT_PREFIX} ${capitalised(words(e.objectType))} ${oneLine(e.objectId, 120)}${
    about ? ` (${about})` : ''
  } ${words(what)}`;
  return oneLine(subject, MAX_SUBJECT);
}

/** The domain name an event's data is about, when it names one at its top level (or in `domain`). */
function domainNamed(data: unknown): string | undefined {
  if (!isRecord(data)) return undefined;
  for (const key of ['domain', 'domain_name', 'name']) {
    const v = data[key];
    if (typeof v === 'string' && v.includes('.') && v.length <= 253) return oneLine(v, 253);
    if (key === 'domain' && isRecord(v) && typeof v.name === 'string') return oneLine(v.name, 253);
  }
  return undefined;
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Money ({ amount, currency }) in major units: 12.99 EUR. */
function money(v: Record<string, unknown>): string | undefined {
  const keys = Object.keys(v);
  if (keys.length !== 2 || typeof v.amount !== 'number' || typeof v.currency !== 'string') return undefined;
  if (!/^[A-Z]{3}$/.test(v.currency) || !Number.isInteger(v.amount)) return undefined;
  // ISO 4217's minor units, as the API counts amounts (not CLDR's display digits); an unknown code
  // (stored before codes were checked): two decimals.
  const digits = minorUnits(v.currency) ?? 2;
  const major = (v.amount / 10 ** digits).toFixed(digits);
  return `${major} ${v.currency}`;
}

/** A scalar as people read it. */
function scalar(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  if (typeof v === 'boolean') return v ? 'yes' : 'no';
  if (typeof v === 'number') return String(v);
  if (typeof v === 'string') {
    if (v === '') return '(empty)';
    if (ISO_DATE_TIME.test(v)) {
      const d = new Date(v);
      if (!Number.isNaN(d.getTime())) return utc(d);
    }
    return oneLine(v);
  }
  // bigint, symbol, function: not in JSON data; shown by their type.
  return typeof v === 'bigint' ? v.toString() : `(${typeof v})`;
}

const isScalar = (v: unknown) => v === null || typeof v !== 'object';

let named: Map<string, unknown> | undefined;
const namedById = () =>
  new Map(namedSchemas().map((s) => [String((s as { $id?: unknown }).$id), s as unknown] as const));

/** The object schema behind `schema`: a `$ref` to a named schema is looked up; anything else has no properties. */
function propertiesOf(schema: unknown): Record<string, unknown> | undefined {
  if (!isRecord(schema)) return undefined;
  if (typeof schema.$ref === 'string') {
    named ??= namedById();
    return propertiesOf(named.get(schema.$ref));
  }
  return isRecord(schema.properties) ? schema.properties : undefined;
}

/** The schema of array items (`items`), or undefined. */
function itemsOf(schema: unknown): unknown {
  if (!isRecord(schema)) return undefined;
  if (typeof schema.$ref === 'string') {
    named ??= namedById();
    return itemsOf(named.get(schema.$ref));
  }
  return schema.items;
}

/** An object's entries: the schema's keys in its order first, then the rest alphabetically. */
function ordered(rec: Record<string, unknown>, schema: unknown): [string, unknown, unknown][] {
  const props = propertiesOf(schema) ?? {};
  const known = Object.keys(props).filter((k) => k in rec);
  const rest = Object.keys(rec)
    .filter((k) => !(k in props))
    .sort();
  return [...known, ...rest].map((k) => [k, rec[k], props[k]]);
}

/** `key: value` lines, nested objects and lists indented by two spaces. */
export function dataLines(value: unknown, schema?: unknown, indent = 2): string[] {
  const out: string[] = [];
  const pad = (n: number) => ' '.repeat(n);
  const walk = (key: string, v: unknown, sch: unknown, depth: number, at: number) => {
    const head = `${pad(at)}${key}:`;
    if (isScalar(v)) return void out.push(`${head} ${scalar(v)}`);
    if (depth >= MAX_DEPTH) return void out.push(`${head} …`);
    if (Array.isArray(v)) {
      if (v.length === 0) return void out.push(`${head} (none)`);
      if (v.every(isScalar)) {
        const joined = v.map(scalar).join(', ');
        if (joined.length <= 70) return void out.push(`${head} ${joined}`);
        out.push(head);
        for (const item of v) out.push(`${pad(at + 2)}- ${scalar(item)}`);
        return;
      }
      out.push(head);
      v.forEach((item, i) => {
        if (isScalar(item)) return void out.push(`${pad(at + 2)}- ${scalar(item)}`);
        walk(`${i + 1}`, item, itemsOf(sch), depth + 1, at + 2);
      });
      return;
    }
    const rec = v as Record<string, unknown>;
    const m = money(rec);
    if (m) return void out.push(`${head} ${m}`);
    const entries = ordered(rec, sch);
    if (entries.length === 0) return void out.push(`${head} (none)`);
    out.push(head);
    for (const [k, inner, innerSchema] of entries) walk(oneLine(k, 100), inner, innerSchema, depth + 1, at + 2);
  };
  if (isRecord(value)) {
    for (const [k, v, sch] of ordered(value, schema)) walk(oneLine(k, 100), v, sch, 0, indent);
  } else {
    out.push(`${pad(indent)}${scalar(value)}`);
  }
  if (out.length > MAX_DATA_LINES) {
    const more = out.length - MAX_DATA_LINES;
    return [...out.slice(0, MAX_DATA_LINES), `${pad(indent)}… ${more} more lines: see the whole event`];
  }
  return out;
}

/** The e-mail of one event. */
export function renderEventMail(e: RenderedEvent, opts: RenderOptions): RenderedMail {
  const subject = subjectOf(e);
  const path = `/v1/events/${e.id}`;
  const label = (name: string) => `${name}:`.padEnd(10);
  const lines = [
    subject.slice(SUBJECT_PREFIX.length + 1),
    '',
    ...(e.summary ? [oneLine(e.summary, 1000), ''] : []),
    `${label('What')}${e.type}`,
    `${label('When')}${utc(e.createdAt)}`,
    `${label('Object')}${words(e.objectType)} ${oneLine(e.objectId, 300)} (event ${e.objectSequence} about it)`,
    ...(e.accountName ? [`${label('Account')}${oneLine(e.accountName, 200)}`] : []),
    '',
    'Details:',
    ...dataLines(e.data, e.dataSchema),
    '',
    `Event id: ${e.id}`,
    `The whole event (JSON): GET ${opts.publicUrl ?? ''}${path}`,
    '',
    '-- ',
    `You receive this because you are a notification recipient of this reseller account${
      e.group ? ` for "${e.group}" events` : ''
    }.`,
    `Recipients are changed with PUT /v1/notification-recipients/${e.group ?? '{group}'}.`,
    'This message was sent automatically; replies are not read.',
  ];
  return { subject, text: `${lines.join('\n')}\n` };
}
