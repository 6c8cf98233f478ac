// The billing area: the account's balance and ledger.
import type { FastifyInstance } from 'fastify';
import type { AreaOptions } from '../area.js';
import { billingRoutes } from './routes.js';

export default async function billingArea(app: FastifyInstance, _opts: AreaOptions): Promise<void> {
  await app.register(billingRoutes);
}
