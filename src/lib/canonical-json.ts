// JSON with object keys sorted at every depth, so the same command always has the same text
// whatever key order or whitespace the client used (R-API-2 fingerprints, idempotency).
// Iterative, with an explicit stack: a value nested thousands deep (from anywhere, not only a
// parsed body) costs memory in proportion, never a stack overflow.

type Frame =
  { kind: 'array'; items: unknown[]; next: number } | { kind: 'object'; entries: [string, unknown][]; next: number };

function open(value: object, out: string[]): Frame {
  if (Array.isArray(value)) {
    out.push('[');
    return { kind: 'array', items: value, next: 0 };
  }
  out.push('{');
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return { kind: 'object', entries, next: 0 };
}

/** A scalar's JSON text, or null when the value is an object or array to descend into. */
function scalar(value: unknown): string | null {
  if (value === undefined) return 'null';
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null';
  return null;
}

export function canonicalJson(value: unknown): string {
  const top = scalar(value);
  if (top !== null) return top;
  const out: string[] = [];
  const stack: Frame[] = [open(value as object, out)];
  while (stack.length > 0) {
    const frame = stack[stack.length - 1]!;
    let child: unknown;
    if (frame.kind === 'array') {
      if (frame.next === frame.items.length) {
        out.push(']');
        stack.pop();
        continue;
      }
      if (frame.next > 0) out.push(',');
      child = frame.items[frame.next++];
    } else {
      if (frame.next === frame.entries.length) {
        out.push('}');
        stack.pop();
        continue;
      }
      const [key, v] = frame.entries[frame.next]!;
      out.push(`${frame.next > 0 ? ',' : ''}${JSON.stringify(key)}:`);
      frame.next++;
      child = v;
    }
    const text = scalar(child);
    if (text !== null) out.push(text);
    else stack.push(open(child as object, out));
  }
  return out.join('');
}
