// Before lint and type-check: every dependency package.json names is installed, at the version
// package-lock.json pins. A checkout whose node_modules predates a new dependency, or holds an older
// version of one, otherwise fails type-aware lint with "Unsafe call of a type that could not be
// resolved" errors that do not say what is wrong.
import { existsSync, readFileSync } from 'node:fs';

const read = (path) => JSON.parse(readFileSync(new URL(path, import.meta.url), 'utf8'));
const pkg = read('../package.json');
const locked = existsSync(new URL('../package-lock.json', import.meta.url))
  ? read('../package-lock.json').packages
  : {};
const names = Object.keys({ ...pkg.dependencies, ...pkg.devDependencies });

const missing = [];
const stale = [];
for (const name of names) {
  const manifest = `../node_modules/${name}/package.json`;
  if (!existsSync(new URL(manifest, import.meta.url))) {
    missing.push(name);
    continue;
  }
  const want = locked?.[`node_modules/${name}`]?.version;
  const have = read(manifest).version;
  if (want && have !== want) stale.push(`${name} ${have} (package-lock.json: ${want})`);
}

if (missing.length === names.length) {
  console.error('Nothing is installed (no node_modules). Run `npm ci` first.');
  process.exit(1);
}
if (missing.length || stale.length) {
  if (missing.length) console.error(`Not installed: ${missing.join(', ')}.`);
  if (stale.length) console.error(`Installed at another version than package-lock.json pins: ${stale.join(', ')}.`);
  console.error('node_modules is older than package.json and package-lock.json: run `npm ci`.');
  process.exit(1);
}
