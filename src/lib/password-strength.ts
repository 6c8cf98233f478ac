// R-SEC-2: a password is at least 12 characters and not guessable (zxcvbn score >= 3).
import { ZxcvbnFactory } from '@zxcvbn-ts/core';
import * as common from '@zxcvbn-ts/language-common';
import * as en from '@zxcvbn-ts/language-en';

const estimator = new ZxcvbnFactory({
  dictionary: { ...common.dictionary, ...en.dictionary },
  graphs: common.adjacencyGraphs,
  translations: en.translations,
});

export const MIN_PASSWORD_LENGTH = 12;
export const MIN_PASSWORD_SCORE = 3;

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
  const result = estimator.check(password.slice(0, 256), context.filter(Boolean));
  if (result.score < MIN_PASSWORD_SCORE) {
    problems.push(result.feedback.warning || 'is too easy to guess');
    problems.push(...result.feedback.suggestions);
  }
  return { ok: problems.length === 0, score: result.score, problems };
}
