// An SDK user's view of the document: a client generated from openapi/openapi.json with
// openapi-typescript (`npm run sdk:check` generates it into generated/ and compiles this file).
// It switches on registerDomain's error codes exhaustively, reads each code's typed extra members,
// and shows that a code the operation does not declare does not compile.
import type { operations } from './generated/api.js';

type Problems<
  Op extends keyof operations,
  Status extends keyof operations[Op]['responses'],
> = operations[Op]['responses'][Status] extends {
  content: { 'application/problem+json': infer P };
}
  ? P
  : never;

/** Every problem POST /v1/domains answers with 402 or 409: the codes a caller decides on. */
export type RegisterDomainRefusal = Problems<'registerDomain', 402> | Problems<'registerDomain', 409>;

function unreachable(problem: never): never {
  throw new Error(`a code this client does not know: ${JSON.stringify(problem)}`);
}

/** What to do next; adding a code to the operation makes this stop compiling until it is handled. */
export function nextStep(problem: RegisterDomainRefusal): string {
  switch (problem.code) {
    case 'insufficient_funds':
      return problem.available && problem.required
        ? `top up ${problem.required.amount - problem.available.amount} ${problem.required.currency}`
        : 'top up the balance';
    case 'price_changed':
      return `the price is ${problem.price.amount} ${problem.price.currency}, above your max_price of ${problem.max_price.amount}`;
    case 'premium_not_accepted':
      return `a premium name at ${problem.price.amount} ${problem.price.currency}: resend with accept_premium`;
    case 'availability_check_required':
      return 'check the name first';
    case 'quote_expired':
      return 'check the name again for a fresh quote';
    case 'domain_not_available':
      return 'pick another name';
    case 'idempotency_key_in_use':
      return 'the first request with this key is still running: retry later';
    case 'repeated_failed_command':
      return `failed before with ${problem.first_failure.code ?? problem.first_failure.status}; change ${problem.first_failure.depends_on.join(', ')}`;
    default:
      return unreachable(problem);
  }
}

/** A code the operation does not declare is a compile error, not a silent dead branch. */
export function isDomainLocked(problem: Problems<'registerDomain', 409>): boolean {
  switch (problem.code) {
    // @ts-expect-error registerDomain never answers 409 domain_locked
    case 'domain_locked':
      return true;
    default:
      return false;
  }
}

/** The 2FA enrolment token of a login that needs enrolment, typed. */
export function enrolmentToken(problem: Problems<'login', 403>): string | undefined {
  return problem.code === 'two_factor_enrolment_required' ? problem.enrolment_token : undefined;
}
