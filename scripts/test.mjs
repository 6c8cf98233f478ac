// `npm test [-- files or tap options]`: compiles src/ and test/ to JavaScript with esbuild (about a
// second), then runs tap on the compiled test files.
//
// Why not let tap load the TypeScript itself: its loader (ts-node, transpile-only) and tsx both
// route each of the ~1,500 modules a test file imports through a module hook, which made importing
// the app take 12 s (ts-node) or 7.5 s (tsx) per test file against 2.6 s as plain JavaScript, on
// the CI machine with CI running beside; over 150 test-file runs that was most of a CI run.
//
// node_modules/.cache/reseller-api-tests/ mirrors the checkout (inside node_modules, which every
// tool of every commit ignores: a compiled copy in the checkout itself failed eslint and prettier
// of any commit that did not know it, and `npm ci` wipes it): src/ and test/ compiled (with source
// maps, so a failure names the .ts line), every other top-level entry a symlink (package.json,
// README.md, migrations/, examples/...), so a file a module finds from its own location is where it
// is in the checkout. A file is written only when its output changed (a parallel run never reads
// half a file), and an output whose source is gone is deleted.
//
// Arguments: a path under test/ (a .ts file or a folder) is mapped to its compiled counterpart;
// anything else goes to tap as is. No path: every test file.
import { spawnSync } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { Buffer } from 'node:buffer';
import { dirname, join, relative, resolve } from 'node:path';
import { build } from 'esbuild';

const root = new URL('..', import.meta.url).pathname;
const out = join(root, 'node_modules/.cache/reseller-api-tests');
rmSync(join(root, '.build-test'), { recursive: true, force: true }); // where this copy lived before
const compiled = ['src', 'test'];

const walk = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? walk(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );

async function compile() {
  const entryPoints = compiled.flatMap((d) => walk(join(root, d)));
  const result = await build({
    entryPoints,
    outdir: out,
    outbase: root,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    sourcemap: 'linked',
    sourcesContent: false,
    write: false,
    logLevel: 'warning',
    tsconfig: join(root, 'tsconfig.json'),
  });
  const wanted = new Set();
  for (const file of result.outputFiles) {
    wanted.add(file.path);
    let same = false;
    try {
      same = Buffer.compare(readFileSync(file.path), file.contents) === 0;
    } catch {
      // not there yet
    }
    if (same) continue;
    mkdirSync(dirname(file.path), { recursive: true });
    const partial = `${file.path}.${process.pid}.tmp`;
    writeFileSync(partial, file.contents);
    renameSync(partial, file.path);
  }
  for (const d of compiled) {
    const dir = join(out, d);
    if (!existsSync(dir)) continue;
    for (const f of readdirSync(dir, { recursive: true })) {
      const p = join(dir, f);
      // (a .tmp file is another run's write in progress)
      if (!wanted.has(p) && !p.endsWith('.tmp') && statSync(p).isFile()) rmSync(p);
    }
  }
}

// Everything else at the top of the checkout, linked (examples/, README.md, package.json...).
const notLinked = new Set([...compiled, '.git', 'node_modules']);

function mirror() {
  mkdirSync(out, { recursive: true });
  const entries = new Set(readdirSync(root).filter((e) => !notLinked.has(e)));
  for (const entry of readdirSync(out)) {
    if (compiled.includes(entry) || entries.has(entry)) continue;
    rmSync(join(out, entry)); // a link to something the checkout no longer has
  }
  for (const entry of entries) {
    const link = join(out, entry);
    try {
      lstatSync(link);
    } catch {
      symlinkSync(relative(out, join(root, entry)), link);
    }
  }
}

const testFiles = (dir) =>
  readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => join(dir, f))
    .sort();

/**
 * tap builds its Test class for the plugins package.json names (not the TypeScript and mock ones)
 * when it first runs after an install, but that first run still starts its test processes with the
 * old set's module hooks (ts-node, the mock loader). So the build is done here first when needed.
 */
async function buildTapPlugins() {
  let built = false;
  try {
    await import('@tapjs/core'); // @tapjs/test imported first hits a cycle in tap's modules
    const { signature } = await import('@tapjs/test');
    const { TapConfig } = await import('@tapjs/config');
    built = signature === (await TapConfig.load()).pluginSignature;
  } catch {
    // tap's internals moved: build to be sure
  }
  if (built) return;
  const status = spawnSync(process.execPath, [tapBin, 'build'], { stdio: 'inherit', cwd: root }).status;
  if (status !== 0) process.exit(status ?? 1);
}

/** The .ts source of a compiled test file. */
const sourceOf = (compiledFile) => join(root, relative(out, compiledFile)).replace(/\.js$/, '.ts');

/**
 * Whether a test file, or any module of ours it imports (transitively), names DATABASE_URL or
 * REDIS_URL outside a comment: a file that never does runs the same whatever they are set to (one
 * that starts a server process passes it a clean environment), so CI's PostgreSQL pass may leave it
 * to the PGlite pass (TEST_SKIP_STORE_INDEPENDENT=1).
 */
function readsStoreSettings(entry) {
  const seen = new Set();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop();
    if (seen.has(file) || !existsSync(file)) continue;
    seen.add(file);
    // Comment lines left out (// ..., /* ..., * ...): a comment that names them reads nothing.
    const code = readFileSync(file, 'utf8').replace(/^\s*(\/\/|\/\*|\*).*$/gm, '');
    if (/\b(DATABASE_URL|REDIS_URL)\b/.test(code)) return true;
    for (const m of code.matchAll(/(?:from\s*|import\s*\(?\s*)['"](\.{1,2}\/[^'"]+)['"]/g)) {
      pending.push(resolve(dirname(file), m[1].replace(/\.js$/, '.ts')));
    }
  }
  return false;
}

const tapBin = join(root, 'node_modules/tap/dist/esm/run.mjs');
await compile();
mirror();

const args = [];
let named = false;
for (const arg of process.argv.slice(2)) {
  const abs = resolve(arg);
  const rel = relative(join(root, 'test'), abs);
  if (!arg.startsWith('-') && !rel.startsWith('..') && existsSync(abs)) {
    named = true;
    const target = join(out, 'test', rel);
    if (statSync(abs).isDirectory()) args.push(...testFiles(target));
    else args.push(target.replace(/\.ts$/, '.js'));
  } else args.push(arg);
}
const asksOnly = args.some((a) => ['-h', '--help', '-v', '--version', '--versions'].includes(a));
if (!named && !asksOnly) {
  let files = testFiles(join(out, 'test'));
  if (process.env.TEST_SKIP_STORE_INDEPENDENT === '1') {
    const skipped = files.filter((f) => !readsStoreSettings(sourceOf(f)));
    files = files.filter((f) => !skipped.includes(f));
    console.log(
      `Skipped ${skipped.length} test files that never read DATABASE_URL or REDIS_URL (TEST_SKIP_STORE_INDEPENDENT=1):`,
    );
    for (const f of skipped) console.log(`  ${relative(out, f)}`);
  }
  args.push(...files);
}

process.chdir(root); // tap reads its configuration from the project's directory
await buildTapPlugins();

const tap = spawnSync(process.execPath, [tapBin, ...args], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(tap.status ?? 1);
