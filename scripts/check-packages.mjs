#!/usr/bin/env node
// Builds and packs every published package (each workspace without "private": true) and
// checks the tarball holds what its package.json promises: every `files` entry, dist/,
// the README, config.d.ts when it declares a configSchema, the entry points the packed
// package.json names (after backstage-cli's prepack), and no sources or tests.
// backstage-cli package build takes its types from dist-types, which `yarn tsc` writes: the
// script runs it first unless given --skip-tsc (scripts/test.sh has just run it).
// Usage: node scripts/check-packages.mjs [--skip-tsc] [package-dir ...]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';

const root = new URL('..', import.meta.url).pathname;
const yarn = [join(root, '.yarn/releases/yarn-4.13.0.cjs')];
const run = (cwd, args) =>
  execFileSync(process.execPath, [...yarn, ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    encoding: 'utf8',
  });

const argv = process.argv.slice(2);
const skipTsc = argv.includes('--skip-tsc');
const dirs = argv.filter(a => a !== '--skip-tsc');
const workspaces = dirs.length
  ? dirs.map(d => join(root, d))
  : ['plugins', 'packages', '.']
      .flatMap(parent =>
        parent === '.'
          ? ['controller-agent']
          : readdirSync(join(root, parent)).map(d => join(parent, d)),
      )
      .map(d => join(root, d))
      .filter(d => existsSync(join(d, 'package.json')));

const published = workspaces.filter(
  d => !JSON.parse(readFileSync(join(d, 'package.json'), 'utf8')).private,
);
const out = mkdtempSync(join(tmpdir(), 'spider-pack-'));
let failures = 0;

if (!skipTsc) {
  console.log(
    '› yarn tsc (declarations into dist-types for the package builds)',
  );
  run(root, ['tsc']);
}

for (const dir of published) {
  const name = relative(root, dir);
  const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  const problems = [];
  try {
    run(dir, ['backstage-cli', 'package', 'build']);
  } catch (e) {
    console.log(
      `✗ ${name}: backstage-cli package build failed\n${e.stderr ?? e}`,
    );
    failures++;
    continue;
  }
  const tarball = join(out, `${name.replace(/\//g, '-')}.tgz`);
  try {
    run(dir, ['pack', '--out', tarball]);
  } catch (e) {
    console.log(`✗ ${name}: yarn pack failed\n${e.stderr ?? e}`);
    failures++;
    continue;
  }
  const entries = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' })
    .split('\n')
    .filter(Boolean)
    .map(e => e.replace(/^package\//, ''));
  const has = path =>
    entries.some(
      e => e === path || e.startsWith(`${path.replace(/\/$/, '')}/`),
    );
  // The packed manifest is the one users get (backstage-cli's prepack rewrites it, e.g.
  // config.d.ts becomes config.schema.json): check what it promises.
  const packed = JSON.parse(
    execFileSync('tar', ['xzf', tarball, '-O', 'package/package.json'], {
      encoding: 'utf8',
    }),
  );
  for (const f of packed.files ?? [])
    if (!has(f))
      problems.push(`"files" names ${f}, which is not in the tarball`);
  if (!has('dist')) problems.push('no dist/');
  if (!entries.includes('README.md')) problems.push('no README.md');
  if (pkg.configSchema && !packed.configSchema)
    problems.push(
      `the packed package.json lost configSchema ${pkg.configSchema}`,
    );
  if (packed.configSchema && !entries.includes(packed.configSchema))
    problems.push(`configSchema ${packed.configSchema} is not in the tarball`);
  const stray = entries.filter(
    e =>
      e.startsWith('src/') ||
      /\.test\.[cm]?[jt]sx?$|__tests?__|__testUtils__/.test(e),
  );
  if (stray.length)
    problems.push(`sources or tests packed: ${stray.slice(0, 5).join(', ')}`);
  // Entry points: main, module, types and every path in exports (not the `backstage`
  // feature markers, which are names).
  const exportPaths = v =>
    typeof v === 'string' ? [v] : Object.values(v ?? {}).flatMap(exportPaths);
  const entryPoints = [packed.main, packed.module, packed.types]
    .filter(p => typeof p === 'string')
    .concat(exportPaths(packed.exports).filter(p => p.startsWith('./')))
    .map(p => p.replace(/^\.\//, ''));
  for (const p of entryPoints)
    if (!entries.includes(p))
      problems.push(
        `packed package.json points at ${p}, which is not in the tarball`,
      );
  if (problems.length) {
    failures++;
    console.log(`✗ ${pkg.name} (${name}):\n  - ${problems.join('\n  - ')}`);
  } else {
    console.log(
      `✓ ${pkg.name}: built, packed ${entries.length} files (dist, README${
        packed.configSchema ? `, ${packed.configSchema}` : ''
      }; no sources or tests)`,
    );
  }
}
if (!published.length) {
  console.log('no published packages found');
  process.exit(1);
}
process.exit(failures ? 1 : 0);
