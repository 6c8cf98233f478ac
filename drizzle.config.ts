import { defineConfig } from 'drizzle-kit';

// Generates SQL migrations from src/db/schema; the server applies them at start (src/db/migrate.ts).
export default defineConfig({
  dialect: 'postgresql',
  schema: './src/db/schema/index.ts',
  out: './migrations',
  strict: true,
  verbose: true,
});
