// The first operator: from BOOTSTRAP_OPERATOR_* on a start that finds none, or from the CLI.
import type { FastifyBaseLogger } from 'fastify';
import type { Db } from '../../db/client.js';
import { createOperator, operatorCount } from './service.js';

export async function bootstrapOperator(db: Db, op: { username: string; password: string; email: string } | undefined, log: FastifyBaseLogger): Promise<void> {
  if (!op || (await operatorCount(db)) > 0) return;
  const user = await createOperator(db, { username: op.username, email: op.email, name: op.username, password: op.password });
  log.info({ operator: user.username }, 'created the bootstrap operator');
}
