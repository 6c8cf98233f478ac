import t from 'tap';
import { domainToASCII } from 'node:url';
import { labelScript, parseDomainName, tldOf, toAscii } from '../../src/lib/domain-name.js';

const COM = { minLength: 1, maxLength: 63, idnScripts: ['Latin', 'Cyrillic', 'Greek', 'Han'] };
const DE = { minLength: 1, maxLength: 63, idnScripts: ['Latin'] };
const IO = { minLength: 1, maxLength: 63, idnScripts: [] };

t.test('R-DOM-5: label syntax', async (t) => {
  const cases: [string, string | true][] = [
    ['example.com', true],
    ['EXAMPLE.com.', true],
    ['a.com', true],
    ['x1-2y.com', true],
    [`${'a'.repeat(63)}.com`, true],
    [`${'a'.repeat(64)}.com`, 'too_long'],
    ['-abc.com', 'invalid_characters'],
    ['abc-.com', 'invalid_characters'],
    ['ab--cd.com', 'reserved_hyphens'],
    ['a--b.com', true],
    ['exa_mple.com', 'invalid_characters'],
    ['sub.example.com', 'not_second_level'],
    ['example.net', 'wrong_tld'],
    ['', 'empty'],
    ['xn--abc.com', 'invalid_idn'],
  ];
  for (const [name, expected] of cases) {
    const v = parseDomainName(name, 'com', COM);
    if (expected === true) t.ok(v.ok, `${name} is valid`);
    else t.equal(v.ok ? 'ok' : v.code, expected, `${name}: ${expected}`);
  }
});

t.test('R-DOM-5: IDN names become A-labels and must use an allowed script, one per label', async (t) => {
  const v = parseDomainName('Bücher.de', 'de', DE);
  t.match(v, { ok: true, name: 'xn--bcher-kva.de', unicode: 'bücher.de', idn: true });
  t.match(
    parseDomainName('xn--bcher-kva.de', 'de', DE),
    { ok: true, unicode: 'bücher.de' },
    'an A-label is accepted as is',
  );
  t.match(parseDomainName('пример.com', 'com', COM), { ok: true, name: 'xn--e1afmkfd.com' });
  t.match(parseDomainName('пример.de', 'de', DE), { ok: false, code: 'script_not_allowed' });
  t.match(parseDomainName('bücher.io', 'io', IO), { ok: false, code: 'idn_not_allowed' });
  t.match(
    parseDomainName('pаypal.com', 'com', COM),
    { ok: false, code: 'script_not_allowed' },
    'Latin with a Cyrillic "а" is a mixed-script spoof',
  );
  t.match(
    parseDomainName('例え.com', 'com', { ...COM, idnScripts: ['Han'] }),
    { ok: false, code: 'script_not_allowed' },
    'Hiragana is not Han',
  );
  t.match(
    parseDomainName('ＥＸＡＭＰＬＥ.com', 'com', COM),
    { ok: true, name: 'example.com', idn: false },
    'full-width letters are mapped (UTS #46)',
  );
});

t.test('R-DOM-5: per-TLD minimum length', async (t) => {
  t.match(parseDomainName('ab.de', 'de', { ...DE, minLength: 3 }), { ok: false, code: 'too_short' });
  t.match(parseDomainName('abc.de', 'de', { ...DE, minLength: 3 }), { ok: true });
});

t.test('script detection and TLD extraction', async (t) => {
  t.equal(labelScript('straße', ['Latin']), 'Latin');
  t.equal(labelScript('123', ['Latin']), 'Latin', 'digits only are neutral');
  t.equal(labelScript('мир', ['Latin', 'Cyrillic']), 'Cyrillic');
  t.equal(labelScript('мirр', ['Latin', 'Cyrillic']), null);
  t.equal(tldOf('Example.COM.'), 'com');
  t.equal(tldOf('пример.рф'), 'xn--p1ai');
});

t.test('R-DOM-5: the fast path for plain names agrees with the URL parser (UTS #46)', async (t) => {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz0123456789.-';
  let seed = 7;
  const next = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31);
  const samples = [
    'a.com',
    'a--b.com',
    '-a-.de',
    'a..com',
    '.com',
    'xn--bcher-kva.de',
    'abxn--c.com',
    '1.2.3.4',
    'ab--cd.io',
    '',
  ];
  for (let i = 0; i < 3000; i++)
    samples.push(Array.from({ length: 1 + (next() % 20) }, () => alphabet[next() % alphabet.length]).join(''));
  for (let i = 0; i < 1000; i++) samples.push(`${samples[10 + i]}.${['com', 'de', 'io', 'xn--p1ai'][i % 4]}`);
  const differ = samples.filter((s) => toAscii(s) !== domainToASCII(s));
  t.same(differ, [], 'the same answer as the URL parser, failures included');
  t.equal(toAscii('xn--bcher-kva.de'), 'xn--bcher-kva.de');
  t.equal(toAscii('bücher.de'), 'xn--bcher-kva.de', 'anything else goes through the parser');
});
