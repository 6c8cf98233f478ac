// R-SEC-2's guessability estimate runs on the event loop: while it runs, no other request of the
// process is answered. This measures how long one estimate holds the loop for inputs built to be
// slow (long runs of digits and symbols, each a l33t candidate; repeats; l33t words), as the server
// runs it (src/lib/password-strength.ts: the first 64 characters, at most 20 l33t substitutions),
// against the ceiling: the library with its defaults on the same inputs (the whole password, up to
// 256 characters, 100 substitutions), measured in the same run.
//   npx tsx bench/password-strength.ts
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';
import { checkPasswordStrength } from '../src/lib/password-strength.js';
import { machine } from './harness.js';

const defaults = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
  translations: en.translations,
});

const fill = (unit: string, length = 256) => unit.repeat(Math.ceil(length / unit.length)).slice(0, length);
let seed = 7;
const random = () => (seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31) / 2 ** 31;
const symbols = '4@8(6<{[3&1|!0$5+%27l9';
const inputs: Record<string, string> = {
  'l33t words, 256': fill('p4ssw0rd-l33t-h4x0r-1337!'),
  'digits and symbols, 256': fill('4@8(6<{[3&1|!0$5+%2'),
  'one digit repeated, 256': fill('1'),
  'alternating, 256': fill('a1!b2@c3#d4$e5%'),
  'random l33t candidates, 256': Array.from({ length: 256 }, () => symbols[Math.floor(random() * symbols.length)]).join(
    '',
  ),
  'a passphrase, 30': 'violet-Harbour-lantern-58!quay',
};

/** The slowest of `runs` estimates, in ms (the first one warms up and is left out). */
function slowest(check: () => unknown, runs = 5): number {
  check();
  let worst = 0;
  for (let i = 0; i < runs; i++) {
    const started = performance.now();
    check();
    worst = Math.max(worst, performance.now() - started);
  }
  return worst;
}

console.log(`${machine()}, ${new Date().toISOString()}`);
console.log('| input | server (ms) | library defaults (ms) | ratio |');
console.log('|---|---:|---:|---:|');
let ours = 0;
let theirs = 0;
for (const [name, password] of Object.entries(inputs)) {
  const a = slowest(() => checkPasswordStrength(password));
  const b = slowest(() => defaults.check(password));
  ours = Math.max(ours, a);
  theirs = Math.max(theirs, b);
  console.log(`| ${name} | ${a.toFixed(1)} | ${b.toFixed(1)} | ${((a / b) * 100).toFixed(1)}% |`);
}
console.log(`| slowest | ${ours.toFixed(1)} | ${theirs.toFixed(1)} | ${((ours / theirs) * 100).toFixed(1)}% |`);
