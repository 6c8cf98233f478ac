// `write`: regenerate openapi/openapi.json from the routes. `check`: fail when the file is stale.
import { readFile, writeFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { pgliteStore } from '../src/db/client.js';

const FILE = new URL('../openapi/openapi.json', import.meta.url);

export async function generateOpenApi(): Promise<string> {
  // The document depends on the routes only; an in-memory store satisfies the app's start-up.
  const store = pgliteStore(await PGlite.create());
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent' }), { store });
  try {
    await app.ready();
    return `${JSON.stringify(app.swagger(), null, 2)}\n`;
  } finally {
    await app.close();
    await store.close();
  }
}

const mode = process.argv[2];
const generated = await generateOpenApi();
if (mode === 'write') {
  await writeFile(FILE, generated);
  console.log('openapi/openapi.json written');
} else if (mode === 'check') {
  const committed = await readFile(FILE, 'utf8').catch(() => '');
  if (committed !== generated) {
    console.error('openapi/openapi.json is stale: run `npm run openapi` and commit the result');
    process.exit(1);
  }
  console.log('openapi/openapi.json is up to date');
} else {
  console.error('usage: tsx scripts/openapi.ts write|check');
  process.exit(2);
}
