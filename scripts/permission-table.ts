// `write`: regenerate the permission matrix in README.md from OPERATION_PERMISSIONS and the routes.
// `check`: fail when the README's table is stale (test/modules/accounts/permission-matrix.test.ts checks it too).
import { readFile, writeFile } from 'node:fs/promises';
import { PGlite } from '@electric-sql/pglite';
import { buildApp } from '../src/app.js';
import { loadConfig } from '../src/config.js';
import { pgliteStore } from '../src/db/client.js';
import { renderPermissionTable } from '../src/modules/accounts/operation-permissions.js';

const FILE = new URL('../README.md', import.meta.url);
const PERMISSION_TABLE_BLOCK = /(<!-- permission-matrix:start[^>]*-->\n)[\s\S]*?(\n<!-- permission-matrix:end -->)/;

async function documentedRoutes(): Promise<{ operationId: string; method: string; path: string }[]> {
  const store = pgliteStore(await PGlite.create());
  const app = await buildApp(loadConfig({ LOG_LEVEL: 'silent' }), { store });
  try {
    await app.ready();
    const doc = app.swagger() as unknown as { paths: Record<string, Record<string, { operationId: string }>> };
    return Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.entries(ops).map(([method, op]) => ({ operationId: op.operationId, method: method.toUpperCase(), path })),
    );
  } finally {
    await app.close();
    await store.close();
  }
}

const mode = process.argv[2];
const readme = await readFile(FILE, 'utf8');
if (!PERMISSION_TABLE_BLOCK.test(readme)) {
  console.error('README.md has no <!-- permission-matrix:start --> ... <!-- permission-matrix:end --> block');
  process.exit(1);
}
const table = renderPermissionTable(await documentedRoutes());
const updated = readme.replace(PERMISSION_TABLE_BLOCK, (_m, start: string, end: string) => `${start}${table}${end}`);
if (mode === 'write') {
  await writeFile(FILE, updated);
  console.log('README.md permission matrix written');
} else if (mode === 'check') {
  if (updated !== readme) {
    console.error(
      'The permission matrix in README.md is stale: run `npm run permissions:readme` and commit the result',
    );
    process.exit(1);
  }
  console.log('README.md permission matrix is up to date');
} else {
  console.error('usage: tsx scripts/permission-table.ts write|check');
  process.exit(2);
}
