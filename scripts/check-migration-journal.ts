// CI: fails when migrations/meta/_journal.json is out of order (drizzle would skip a migration).
import { journalOrderProblems, readJournal } from '../src/db/migrate.js';

const problems = journalOrderProblems(readJournal());
if (problems.length > 0) {
  console.error(`migrations/meta/_journal.json is out of order:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  process.exit(1);
}
console.log(`migration journal ok (${readJournal().length} entries, timestamps strictly increasing)`);
