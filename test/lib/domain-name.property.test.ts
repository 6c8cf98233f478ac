// R-DOM-5: label syntax, as properties (fast-check): the verdict on any ASCII label agrees with a
// plain reference of the rules (1-63 octets and the TLD's limits, letters/digits/hyphens, no hyphen
// at either end, "--" in positions 3-4 only for xn--), whatever the case or a trailing dot; and an
// IDN comes back the same from its A-label and from its U-label (round trip).
import fc from 'fast-check';
import t from 'tap';
import { parseDomainName, type LabelRules } from '../../src/lib/domain-name.js';

/** The rules in their plainest form, for an ASCII label under a TLD that takes no IDN. */
function referenceAccepts(label: string, rules: LabelRules): boolean {
  if (label.length < rules.minLength || label.length > Math.min(63, rules.maxLength)) return false;
  if (![...label].every((c) => 'abcdefghijklmnopqrstuvwxyz0123456789-'.includes(c))) return false;
  if (label.startsWith('-') || label.endsWith('-')) return false;
  return label.slice(2, 4) !== '--';
}

const ldhChar = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789-'.split(''), 'x', 'n', '-', '-');
const label = fc.string({ unit: ldhChar, minLength: 0, maxLength: 70 });
const rules = fc
  .tuple(fc.integer({ min: 1, max: 10 }), fc.integer({ min: 1, max: 70 }))
  .map(([minLength, extra]) => ({ minLength, maxLength: minLength + extra, idnScripts: [] as string[] }));

t.test('R-DOM-5: an ASCII label is accepted exactly when the reference rules accept it', async (t) => {
  fc.assert(
    fc.property(label, rules, fc.boolean(), fc.boolean(), (l, r, upper, dot) => {
      const input = `${upper ? l.toUpperCase() : l}.com${dot ? '.' : ''}`;
      const verdict = parseDomainName(input, 'com', r);
      if (l === '') return verdict.ok === false;
      if (verdict.ok !== referenceAccepts(l, r))
        throw new Error(`${input}: ${JSON.stringify(verdict)}; the reference says ${referenceAccepts(l, r)}`);
      if (verdict.ok && (verdict.name !== `${l}.com` || verdict.label !== l || verdict.idn))
        throw new Error(`${input} stored as ${verdict.name}`);
      return true;
    }),
  );
  t.pass('holds for every generated case');
});

// Letters of one script each (Latin with diacritics, Cyrillic), with digits and hyphens inside.
const latin = fc.constantFrom(...'abcdeéèêëäöüñçøåžšłıß'.split(''));
const cyrillic = fc.constantFrom(...'абвгдежзиклмнопрстуфхцчшщыэюя'.split(''));
const uLabel = (letter: fc.Arbitrary<string>) =>
  fc
    .tuple(
      fc.string({ unit: letter, minLength: 1, maxLength: 12 }),
      fc.string({ unit: fc.constantFrom('-', '1', '7'), maxLength: 2 }),
      fc.string({ unit: letter, minLength: 1, maxLength: 12 }),
    )
    .map(([a, mid, b]) => `${a}${mid}${b}`);
const idnRules: LabelRules = { minLength: 1, maxLength: 63, idnScripts: ['Latin', 'Cyrillic'] };

t.test('R-DOM-5: an IDN round-trips: the A-label and the U-label give the same name', async (t) => {
  fc.assert(
    fc.property(fc.oneof(uLabel(latin), uLabel(cyrillic)), (u) => {
      const fromU = parseDomainName(`${u}.de`, 'de', idnRules);
      if (!fromU.ok) return true; // e.g. longer than 63 octets once encoded, or "--" where it may not be
      const fromA = parseDomainName(fromU.name, 'de', idnRules);
      const again = parseDomainName(fromU.unicode, 'de', idnRules);
      if (!fromA.ok || !again.ok) throw new Error(`${u}: ${fromU.name} or ${fromU.unicode} refused`);
      if (fromA.name !== fromU.name || again.name !== fromU.name || fromA.unicode !== fromU.unicode)
        throw new Error(`${u}: ${fromU.name} / ${fromA.name} / ${again.name}`);
      if (fromU.name.length > 63 + 3) throw new Error(`${fromU.name}: a label over 63 octets`);
      return true;
    }),
  );
  t.pass('holds for every generated case');
});

t.test('R-DOM-5: a label mixing two scripts is refused, each script alone is taken', async (t) => {
  fc.assert(
    fc.property(uLabel(latin), uLabel(cyrillic), (l, c) => {
      fc.pre([...l].some((ch) => ch > '\u007f'));
      const mixed = parseDomainName(`${l}${c}.de`, 'de', idnRules);
      if (mixed.ok) throw new Error(`${l}${c}: a mixed label was taken`);
      for (const alone of [l, c]) {
        const verdict = parseDomainName(`${alone}.de`, 'de', idnRules);
        if (!verdict.ok && verdict.code === 'script_not_allowed') throw new Error(`${alone}: one script refused`);
      }
      return true;
    }),
  );
  t.pass('holds for every generated case');
});
