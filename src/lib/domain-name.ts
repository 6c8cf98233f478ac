// Domain name syntax (R-DOM-5): LDH labels of 1-63 octets, no leading or trailing hyphen, `--` in
// positions 3-4 only for A-labels (xn--), IDN through UTS #46 / punycode, and per-TLD scripts.
// Pure: no I/O; the TLD's rules come in as data.
import { domainToASCII, domainToUnicode } from 'node:url';

export interface LabelRules {
  minLength: number;
  maxLength: number;
  /** Unicode scripts a U-label may use (one per label, no mixing); empty = no IDN. */
  idnScripts: readonly string[];
}

export type NameVerdict =
  | { ok: true; name: string; unicode: string; label: string; tld: string; idn: boolean }
  | { ok: false; reason: string; code: string };

const LDH = /^[a-z0-9](?:[a-z0-9-]*[a-z0-9])?$/;

// Lower-case letters, digits, dots and hyphens with no A-label, ending in a label of letters (so
// the URL parser would not read it as an IPv4 address), are their own UTS #46 mapping and their
// own Unicode form: nearly every name skips the URL parser. `toAscii` takes a lower-cased name.
const PLAIN = /^(?:[a-z0-9.-]*\.)?[a-z]+$/;
const isPlain = (lower: string) => PLAIN.test(lower) && !lower.includes('xn--');
export const toAscii = (lower: string): string => (isPlain(lower) ? lower : domainToASCII(lower));

/** Which of `scripts` every letter of `label` belongs to (digits and hyphens are neutral); null if none or mixed. */
export function labelScript(label: string, scripts: readonly string[]): string | null {
  const letters = [...label].filter((c) => /\p{L}|\p{M}/u.test(c));
  if (letters.length === 0) return scripts[0] ?? null;
  for (const script of scripts) {
    const re = new RegExp(`^[\\p{Script=${script}}\\p{M}]$`, 'u');
    if (letters.every((c) => re.test(c))) return script;
  }
  return null;
}

/**
 * Validates a second-level name under `tld` (which the caller has looked up). Accepts U-labels or
 * A-labels, any case, an optional trailing dot; returns the A-label form to store and compare.
 */
export function parseDomainName(input: string, tld: string, rules: LabelRules): NameVerdict {
  const raw = input.trim().replace(/\.$/, '');
  if (raw === '') return { ok: false, code: 'empty', reason: 'The name is empty' };
  if (raw.length > 253) return { ok: false, code: 'too_long', reason: 'A domain name has at most 253 characters' };
  const ascii = toAscii(raw.toLowerCase());
  if (ascii === '') return { ok: false, code: 'invalid_idn', reason: 'Not a valid domain name (IDNA mapping failed)' };
  const suffix = `.${tld}`;
  if (!ascii.endsWith(suffix)) return { ok: false, code: 'wrong_tld', reason: `The name is not under .${tld}` };
  const label = ascii.slice(0, -suffix.length);
  if (label.includes('.'))
    return { ok: false, code: 'not_second_level', reason: `Only second-level names are registered under .${tld}` };
  if (label.length < rules.minLength)
    return { ok: false, code: 'too_short', reason: `Labels under .${tld} have at least ${rules.minLength} characters` };
  if (label.length > Math.min(63, rules.maxLength))
    return {
      ok: false,
      code: 'too_long',
      reason: `Labels under .${tld} have at most ${Math.min(63, rules.maxLength)} octets`,
    };
  if (!LDH.test(label)) {
    return {
      ok: false,
      code: 'invalid_characters',
      reason: 'Letters, digits and hyphens only, not starting or ending with a hyphen',
    };
  }
  const isALabel = label.startsWith('xn--');
  if (label.slice(2, 4) === '--' && !isALabel) {
    return {
      ok: false,
      code: 'reserved_hyphens',
      reason: '"--" in positions 3 and 4 is reserved for IDN A-labels (xn--)',
    };
  }
  const unicode = isALabel || ascii.includes('xn--') ? domainToUnicode(ascii) : ascii;
  if (isALabel) {
    if (rules.idnScripts.length === 0)
      return { ok: false, code: 'idn_not_allowed', reason: `.${tld} does not take internationalised names` };
    const uLabel = unicode.slice(0, -suffix.length);
    // A round trip that does not come back means the A-label is not a valid IDN.
    if (uLabel === label || domainToASCII(unicode) !== ascii)
      return { ok: false, code: 'invalid_idn', reason: 'The xn-- label is not a valid IDN' };
    if (!labelScript(uLabel, rules.idnScripts)) {
      return {
        ok: false,
        code: 'script_not_allowed',
        reason: `.${tld} takes IDNs in ${rules.idnScripts.join(', ')} only, one script per name`,
      };
    }
  }
  return { ok: true, name: ascii, unicode, label, tld, idn: isALabel };
}

/** The TLD of a name as typed (last label, A-label form), for looking up its rules. */
export function tldOf(input: string): string {
  const ascii = toAscii(input.trim().replace(/\.$/, '').toLowerCase()) || input.trim().toLowerCase();
  return ascii.slice(ascii.lastIndexOf('.') + 1);
}
