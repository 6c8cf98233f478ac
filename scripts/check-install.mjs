// Before lint and type-check: every dependency package.json names is installed. A checkout whose
// node_modules predates a new dependency otherwise fails type-aware lint with "Unsafe call of a
// type that could not be resolved" errors that do not say what is wrong.
import { existsSync, readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });
const missing = names.filter((n) => !existsSync(new URL(`../node_modules/${n}/package.json`, import.meta.url)));
if (missing.length) {
  console.error(`Not installed: ${missing.join(', ')}. Run \`npm ci\` first (package.json has changed).`);
  process.exit(1);
}
