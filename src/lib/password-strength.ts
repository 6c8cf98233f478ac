// R-SEC-2: a password is at least 12 characters and not guessable (zxcvbn score >= 3).
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';

/**
 * The estimate runs on the event loop, and its cost grows faster than the length: with the library's
 * defaults a 250-character password of digits and symbols (each a l33t candidate) blocked every
 * request of the process for 1-2 s. So it judges the first JUDGED_LENGTH characters (a password
 * whose beginning is guessable is refused whatever follows; one whose first 64 characters are not
 * guessable is not guessable) and tries at most 20 l33t substitutions (the default is 100; the
 * common ones, P@55w0rd and the like, are still found).
 */
const estimator = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
  translations: en.translations,
  l33tMaxSubstitutions: 20,
});

export const MIN_PASSWORD_LENGTH = 12;
export const MIN_PASSWORD_SCORE = 3;
export const JUDGED_LENGTH = 64;

export interface PasswordVerdict {
  ok: boolean;
  score: number;
  problems: string[];
}

/** `context` holds words the password must not lean on (username, e-mail, company). */
export function checkPasswordStrength(password: string, context: string[] = []): PasswordVerdict {
  const problems: string[] = [];
  if (password.length < MIN_PASSWORD_LENGTH) problems.push(`must be at least ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > 256) problems.push('must be at most 256 characters');
  const result = estimator.check(password.slice(0, JUDGED_LENGTH), context.filter(Boolean));
  if (result.score < MIN_PASSWORD_SCORE) {
    problems.push(result.feedback.warning || 'is too easy to guess');
    problems.push(...result.feedback.suggestions);
    if (password.length > JUDGED_LENGTH)
      problems.push(`only its first ${JUDGED_LENGTH} characters are judged, and they are too easy to guess`);
  }
  return { ok: problems.length === 0, score: result.score, problems };
}
