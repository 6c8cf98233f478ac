// Every event type the server sends is documented: in the README's table of types (in its group's
// row, written in full or as `.suffix` after a full name with the same prefix) and in
// docs/events-and-webhooks.md (in full). A new type that nobody documented fails here.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import '../../../src/app.js'; // every area registers its event types on import
import { eventTypes } from '../../../src/modules/events/registry.js';
import { ROOT } from '../../helpers/server-process.js';

const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
const docs = readFileSync(join(ROOT, 'docs/events-and-webhooks.md'), 'utf8');

/** The row of `group` in the README's table of event types. */
const rowOf = (group: string): string | undefined =>
  readme.split('\n').find((line) => line.startsWith(`| \`${group}\` |`));

/** `type` in `row`: in full, or `.rest` after a full name that shares its prefix. */
function named(row: string, type: string): boolean {
  if (row.includes(`\`${type}\``)) return true;
  const parts = type.split('.');
  for (let i = 1; i < parts.length; i++) {
    const prefix = parts.slice(0, i).join('.');
    const rest = parts.slice(i).join('.');
    if (row.includes(`\`${prefix}.`) && row.includes(`\`.${rest}\``)) return true;
  }
  return false;
}

t.test('every event type is in the README table (its group’s row) and in docs/events-and-webhooks.md', async (t) => {
  const types = eventTypes();
  t.ok(types.length >= 60, `${types.length} event types`);
  const missing: string[] = [];
  for (const e of types) {
    const row = rowOf(e.group);
    if (!row) missing.push(`README: no row for group ${e.group}`);
    else if (!named(row, e.type)) missing.push(`README: ${e.type} not in the ${e.group} row`);
    if (!docs.includes(`\`${e.type}\``)) missing.push(`docs/events-and-webhooks.md: ${e.type}`);
  }
  t.same([...new Set(missing)], [], 'nothing undocumented');
});
