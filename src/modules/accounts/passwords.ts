// argon2id password hashing (R-SEC-2) with OWASP's parameters: 19 MiB, 2 passes, 1 lane (~40 ms).
// Hashes are PHC strings, so those made by earlier releases (@node-rs/argon2) verify unchanged.
import argon2 from 'argon2';
import { checkPasswordStrength } from '../../lib/password-strength.js';
import { WeakPassword } from './errors.js';

const OPTIONS = { type: argon2.argon2id, memoryCost: 19_456, timeCost: 2, parallelism: 1 } as const;

export const hashPassword = (password: string): Promise<string> => argon2.hash(password, OPTIONS);

export async function verifyPassword(passwordHash: string, password: string): Promise<boolean> {
  try {
    return await argon2.verify(passwordHash, password);
  } catch {
    return false;
  }
}

// Made once, when the module loads, so that even the first unknown username costs one verification
// and nothing more (made on first use, it would cost a hash as well, once, and tell).
const dummyHash: Promise<string> = hashPassword(
  'no user has this password; it makes unknown usernames cost a verification',
);
dummyHash.catch(() => {});

/** Verifies against a throwaway hash so an unknown username costs as much time as a wrong password. */
export async function burnPasswordCheck(password: string): Promise<void> {
  await verifyPassword(await dummyHash, password);
}

/** Throws weak_password with the estimator's reasons, pointing at `pointer`. */
export function assertStrongPassword(password: string, context: string[], pointer = '/body/password'): void {
  const verdict = checkPasswordStrength(password, context);
  if (!verdict.ok) {
    throw new WeakPassword(`The password is too weak: ${verdict.problems.join('; ')}`, {
      errors: verdict.problems.map((message) => ({ pointer, code: 'weak_password', message })),
    });
  }
}
