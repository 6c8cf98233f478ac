// `npm test [-- files or tap options]`: compiles src/ and test/ to JavaScript with esbuild (about a
// second), then runs tap on the compiled test files.
//
// Why not let tap load the TypeScript itself: its loader (ts-node, transpile-only) and tsx both
// route each of the ~1,500 modules a test file imports through a module hook, which made importing
// the app take 12 s (ts-node) or 7.5 s (tsx) per test file against 2.6 s as plain JavaScript, on
// the CI machine with CI running beside; over 150 test-file runs that was most of a CI run.
//
// .build-test/ mirrors the checkout: src/ and test/ compiled (with source maps, so a failure names
// the .ts line), and a symlink to each file a module finds from its own location (package.json,
// README.md, .env.example, migrations/), so those paths are the same as in the checkout. A file is
// written only when its output changed (a parallel run never reads half a file), and an output
// whose source is gone is deleted.
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
const out = join(root, '.build-test');
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
      if (!wanted.has(p) && statSync(p).isFile()) rmSync(p);
    }
  }
}

const linked = ['package.json', 'README.md', '.env.example', 'migrations'];

function mirror() {
  mkdirSync(out, { recursive: true });
  for (const entry of linked) {
    const link = join(out, entry);
    try {
      lstatSync(link);
      continue; // already linked
    } catch {
      symlinkSync(join('..', entry), link);
    }
  }
}

const testFiles = (dir) =>
  readdirSync(dir, { recursive: true })
    .filter((f) => f.endsWith('.test.js'))
    .map((f) => join(dir, f))
    .sort();

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
if (!named) args.push(...testFiles(join(out, 'test')));

const tap = spawnSync(process.execPath, [join(root, 'node_modules/tap/dist/esm/run.mjs'), ...args], {
  stdio: 'inherit',
  cwd: root,
});
process.exit(tap.status ?? 1);
