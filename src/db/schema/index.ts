// The one Drizzle schema for PostgreSQL and PGlite: one file per module, re-exported here.
export * from './accounts.js';
export * from './billing.js';
export * from './fair-use.js';
export * from './domains.js';
export * from './events.js';
export * from './licenses.js';
export * from './hosting.js';
export * from './tickets.js';
