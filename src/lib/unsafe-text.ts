// Text PostgreSQL cannot store: U+0000 (text and jsonb refuse it: "invalid byte sequence for
// encoding UTF8: 0x00") and lone UTF-16 surrogates (not Unicode; they cannot be encoded as UTF-8).
// Found anywhere in a request they are a validation failure, reported with a JSON Pointer.

// With the u flag a well-formed surrogate pair is one code point, so \p{Cs} matches only lone halves.
// eslint-disable-next-line no-control-regex -- U+0000 is the very character this pattern exists to find
const UNSAFE = /[\u0000\p{Cs}]/u;

export interface UnsafeTextError {
  pointer: string;
  code: 'invalid_character';
  message: string;
}

const escapePointer = (s: string): string => s.replace(/~/g, '~0').replace(/\//g, '~1');

function describe(text: string): string {
  return text.includes('\u0000')
    ? 'contains a NUL character (U+0000), which is not accepted'
    : 'contains a lone UTF-16 surrogate (not valid Unicode), which is not accepted';
}

export const isUnsafeText = (text: string): boolean => UNSAFE.test(text);

/**
 * The first string (or object key) in `value` holding unsafe text, with its pointer under `root`
 * (e.g. `/body`); null when there is none. Iterative, so depth costs no stack.
 */
export function findUnsafeText(value: unknown, root: string): UnsafeTextError | null {
  const stack: [unknown, string][] = [[value, root]];
  while (stack.length > 0) {
    const [v, pointer] = stack.pop()!;
    if (typeof v === 'string') {
      if (UNSAFE.test(v)) return { pointer, code: 'invalid_character', message: describe(v) };
    } else if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--) stack.push([v[i], `${pointer}/${i}`]);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, child] of Object.entries(v)) {
        const at = `${pointer}/${escapePointer(k)}`;
        if (UNSAFE.test(k)) return { pointer: at, code: 'invalid_character', message: `the field name ${describe(k)}` };
        stack.push([child, at]);
      }
    }
  }
  return null;
}

/**
 * Whether JSON text may decode to unsafe text. Raw U+0000 is not valid inside JSON and UTF-8 cannot
 * carry surrogates, so only the escapes \u0000 and \uD800-\uDFFF can produce it: a body without
 * them (nearly all) is never walked.
 */
export const jsonMayHoldUnsafeText = (text: string): boolean => /\\u(?:0000|[dD][89a-fA-F])/.test(text);

/**
 * Text from a foreign document (an e-mail) made storable: each NUL or lone surrogate becomes U+FFFD,
 * as a decoder marks what it could not read. Requests are refused instead (findUnsafeText).
 */
// eslint-disable-next-line no-control-regex -- U+0000 is the very character this pattern replaces
const UNSAFE_ALL = /[\u0000\p{Cs}]/gu;
export const storableText = (text: string): string => text.replace(UNSAFE_ALL, '\uFFFD');
