// The store as a decorator: opened (and migrated) before ready(), closed on close().
import fp from 'fastify-plugin';
import { createStore, type Db, type Store } from '../db/client.js';
import { runMigrations } from '../db/migrate.js';

declare module 'fastify' {
  interface FastifyInstance {
    store: Store;
    db: Db;
  }
}

export interface DbPluginOptions {
  databaseUrl: string | undefined;
  databasePoolMax: number;
  databaseStatementTimeoutMs: number;
  dataDir: string;
  /** A store made by the caller (tests, two instances on one database); the caller closes it. */
  store?: Store;
}

export default fp<DbPluginOptions>(
  async function dbPlugin(app, opts) {
    const owned = opts.store === undefined;
    const store = opts.store ?? (await createStore(opts));
    try {
      await runMigrations(store);
    } catch (err) {
      if (owned) await store.close();
      throw err;
    }
    app.decorate('store', store);
    app.decorate('db', store.db);
    if (owned) app.addHook('onClose', async () => store.close());
  },
  { name: 'db', fastify: '5.x' },
);
