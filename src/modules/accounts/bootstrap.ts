// The first operator: from BOOTSTRAP_OPERATOR_* on a start that finds none, or from the CLI.
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/client.js';
import { StartupError } from '../../startup-errors.js';
import { UsernameTaken, WeakPassword } from './errors.js';
import { assertStrongPassword } from './passwords.js';
import { createOperator, operatorCount } from './service.js';

/** BOOTSTRAP_OPERATOR_PASSWORD's strength, checked at start before anything is opened. */
export function assertBootstrapPasswordStrong(
  op: { username: string; password: string; email: string } | undefined,
): void {
  if (!op) return;
  try {
    assertStrongPassword(op.password, [op.username, op.email]);
  } catch (err) {
    throw asStartupError(err);
  }
}

// Said in terms of the variables the operator set, since that is what they change.
function asStartupError(err: unknown): unknown {
  if (err instanceof WeakPassword) {
    const why = (err.fieldErrors ?? []).map((e) => e.message.replace(/\.$/, '')).join('; ') || err.message;
    return new StartupError(
      `BOOTSTRAP_OPERATOR_PASSWORD: too weak (${why}); set a longer, less guessable one, e.g. several unrelated words`,
    );
  }
  if (err instanceof UsernameTaken)
    return new StartupError(`BOOTSTRAP_OPERATOR_USERNAME: ${err.message}; choose another`);
  return err;
}

export async function bootstrapOperator(
  db: Db,
  op: { username: string; password: string; email: string } | undefined,
  log: FastifyBaseLogger,
): Promise<void> {
  if (!op || (await operatorCount(db)) > 0) return;
  try {
    const user = await createOperator(db, {
      username: op.username,
      email: op.email,
      name: op.username,
      password: op.password,
    });
    log.info({ operator: user.username }, 'created the bootstrap operator');
  } catch (err) {
    throw asStartupError(err);
  }
}
