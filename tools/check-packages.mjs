#!/usr/bin/env node
// The packaging check of `npm test`: every publishable package (packages/* without "private") as a
// user gets it, from its tarball, in an empty project.
//   0. the API site documents every export path (each package's typedoc.json);
//   1. `npm pack` them all (each tarball ships LICENSE, the root's text), then publint and
//      are-the-types-wrong lint the tarballs (tools/packaging/lint-tarball.mjs);
//   2. install the tarballs into an empty temporary project (the tarballs, their dependencies,
//      @types/node, and the WebGPU packages a user of the `./webgpu` entry points brings: `webgpu`
//      in Node, `@webgpu/types` for `navigator.gpu`; nothing of the monorepo), check that every source map leads to its sources,
//      import every export path from plain Node ESM and require() it from CommonJS (Node's
//      require of ES modules);
//   3. type-check imports of every export path with `tsc --strict` and `skipLibCheck: false` in the
//      configurations users have: node16 (ESM), bundler resolution, Node without the DOM lib (ESM
//      and CommonJS, module node20), and a browser project (lib es2022 + dom, no @types/node: every
//      export path but the Node-only `./node` ones);
//   4. the README code (tools/packaging/readme-blocks.mjs): every quick start block runs with
//      plain `node` (JavaScript as written, TypeScript as tsc compiles it under node16), and every
//      JavaScript quick start and every ```ts block compiles under strict with node16 and bundler.
// Packages must be built first (`npm test` builds before it runs this).
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';
import { lintTarball } from './packaging/lint-tarball.mjs';
import { readmeBlocks } from './packaging/readme-blocks.mjs';
import { sourceMapDeadEnds } from './packaging/source-maps.mjs';

const root = resolve(new URL('..', import.meta.url).pathname);
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', timeout: 180_000 });

class StepFailed extends Error {}

/** Runs one step, printing its label, `ok` and its duration, or `FAILED` and what it printed. */
async function step(label, action, explain = (error) => `${error.stdout ?? ''}${error.stderr ?? ''}` || String(error)) {
  process.stdout.write(`${label} ... `);
  const start = performance.now();
  try {
    const result = await action();
    console.log(`ok (${((performance.now() - start) / 1000).toFixed(1)} s)`);
    return result;
  } catch (error) {
    console.log('FAILED');
    console.error(explain(error));
    throw new StepFailed(label);
  }
}

function publishablePackages() {
  return readdirSync(join(root, 'packages'))
    .map((dir) => join(root, 'packages', dir))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => !manifest.private);
}

/**
 * The export paths of a package: import specifier, source file (the `@mem/source` condition), and
 * whether it is Node-only (the `./node` paths).
 */
function entryPoints({ manifest }) {
  return Object.entries(manifest.exports ?? {})
    .filter(([subpath]) => subpath !== './package.json' && !subpath.includes('*'))
    .map(([subpath, conditions]) => ({
      specifier: subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`,
      source: conditions['@mem/source']?.replace(/^\.\//, ''),
      nodeOnly: subpath === './node' || subpath.startsWith('./node/'),
    }));
}

/** The API site documents a package as its export paths: its typedoc.json names their sources, in order. */
function checkDocumentedEntryPoints(pkg) {
  const sources = entryPoints(pkg).map(({ source }) => source);
  const config = join(pkg.dir, 'typedoc.json');
  const documented = existsSync(config) ? JSON.parse(readFileSync(config, 'utf8')).entryPoints : undefined;
  if (JSON.stringify(documented) !== JSON.stringify(sources)) {
    throw new Error(
      `${relative(root, config)}: "entryPoints" must be ${JSON.stringify(sources)} (the sources of the export paths)`,
    );
  }
}

function writeJson(path, value) {
  writeFileSync(path, `${JSON.stringify(value, null, 2)}\n`);
}

/** Packs every package into `scratch` with one `npm pack`; returns the tarball paths. */
function pack(packages, scratch) {
  const args = ['pack', '--json', '--pack-destination', scratch];
  const packed = JSON.parse(run('npm', [...args, ...packages.flatMap(({ dir }) => ['-w', relative(root, dir)])], root));
  const license = readFileSync(join(root, 'LICENSE'), 'utf8');
  return packages.map(({ dir, manifest }) => {
    const tarball = packed.find(({ name }) => name === manifest.name);
    if (!tarball) throw new Error(`npm pack made no tarball of ${manifest.name}`);
    if (
      !tarball.files.some(({ path }) => path === 'LICENSE') ||
      readFileSync(join(dir, 'LICENSE'), 'utf8') !== license
    ) {
      throw new Error(`${manifest.name}: the tarball must ship LICENSE, the same text as the root LICENSE`);
    }
    return join(scratch, tarball.filename);
  });
}

/** What a failed tsc printed, with the diagnostics of README blocks put at their README lines. */
function explainTypeErrors(origins) {
  return (error) =>
    `${error.stdout ?? ''}${error.stderr ?? ''}`
      .split('\n')
      .map((line) => {
        const match = /^([^(]+)\((\d+),(\d+)\): (.*)$/.exec(line);
        const origin = match && origins.get(match[1]);
        return origin ? `${origin.readme}:${origin.line + Number(match[2]) - 1}: ${match[4]}` : line;
      })
      .join('\n');
}

/** A module that loads every entry point (`load` writes the statement) and checks it exports something. */
function entriesSource(entries, load) {
  return [
    ...entries.map(({ specifier }, index) => load(`m${index}`, specifier)),
    ...entries.map(
      ({ specifier }, index) =>
        `if (Object.keys(m${index}).length === 0) throw new Error('${specifier} exports nothing');`,
    ),
    '',
  ].join('\n');
}

/** The TypeScript of the type checks: every entry point imported, and `using` over a handle of ours. */
function typeScriptEntriesSource(entries) {
  const using = `class Lease extends m${entries.findIndex(({ specifier }) => specifier === '@mem/types')}.DisposableHandle {
  protected onRelease(): void {}
}
{
  using lease = new Lease();
  console.log(lease.released);
}
`;
  return entriesSource(entries, (name, specifier) => `import * as ${name} from '${specifier}';`) + using;
}

const packages = publishablePackages();
for (const { dir, manifest } of packages) {
  if (!existsSync(join(dir, 'dist'))) {
    console.error(`${manifest.name} is not built: run \`npm run build\` first`);
    process.exit(1);
  }
}
const scratch = mkdtempSync(join(tmpdir(), 'mem-pack-'));
try {
  await step('the API site documents every export path (packages/*/typedoc.json)', () =>
    packages.forEach(checkDocumentedEntryPoints),
  );
  const tarballs = await step(`npm pack ${packages.map(({ manifest }) => manifest.name).join(', ')}`, () =>
    pack(packages, scratch),
  );
  for (const tarball of tarballs) {
    await step(`publint and are-the-types-wrong: ${relative(scratch, tarball)}`, async () => {
      const problems = await lintTarball(tarball);
      if (problems.length > 0) throw new Error(problems.join('\n'));
    });
  }

  // The empty project: the tarballs, their dependencies and @types/node.
  const project = join(scratch, 'consumer');
  mkdirSync(join(project, 'readme'), { recursive: true });
  writeJson(join(project, 'package.json'), { name: 'consumer', private: true, type: 'module' });
  const version = (name) => JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')).version;
  const userPackages = ['@types/node', 'webgpu', '@webgpu/types'].map((name) => `${name}@${version(name)}`);
  await step('install the tarballs into an empty project', () =>
    run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs, ...userPackages], project),
  );
  for (const { manifest } of packages) {
    await step(`source maps of ${manifest.name} lead to sources in the package`, () => {
      const deadEnds = sourceMapDeadEnds(join(project, 'node_modules', manifest.name));
      if (deadEnds.length > 0) throw new Error(deadEnds.join('\n'));
    });
  }

  const entries = packages.flatMap(entryPoints);
  writeFileSync(
    join(project, 'entries.mjs'),
    entriesSource(entries, (name, specifier) => `import * as ${name} from '${specifier}';`),
  );
  writeFileSync(
    join(project, 'entries.cjs'),
    entriesSource(entries, (name, specifier) => `const ${name} = require('${specifier}');`),
  );
  writeFileSync(
    join(project, 'entries.cts'),
    entriesSource(entries, (name, specifier) => `import ${name} = require('${specifier}');`),
  );
  writeFileSync(join(project, 'entries.ts'), typeScriptEntriesSource(entries));
  await step(`import ${entries.length} entry points from plain Node ESM`, () => run('node', ['entries.mjs'], project));
  await step(`require() ${entries.length} entry points from plain Node CommonJS`, () =>
    run('node', ['entries.cjs'], project),
  );

  // The README blocks, as files of the project.
  const origins = new Map();
  const runnable = [];
  const readmeTypeScript = [];
  await step('README quick starts have a ```js block that runs on plain Node', () => {
    for (const { dir } of packages) {
      const readme = relative(root, join(dir, 'README.md'));
      const blocks = readmeBlocks(join(root, readme));
      if (!blocks.some(({ quickStart, language }) => quickStart && language === 'js')) {
        throw new Error(`${readme}: its "## Quick start" has no \`\`\`js block`);
      }
      // JavaScript outside the quick start may be a fragment (a worker's side, say): left alone.
      for (const { language, line, quickStart, code } of blocks.filter(
        (block) => block.quickStart || block.language === 'ts',
      )) {
        const file = `readme/${relative(join(root, 'packages'), dir)}-${line}`;
        origins.set(`${file}.ts`, { readme, line });
        writeFileSync(join(project, `${file}.ts`), `${code}export {};\n`);
        readmeTypeScript.push(`${file}.ts`);
        if (language === 'js') writeFileSync(join(project, `${file}.mjs`), code);
        if (quickStart) {
          const runs = language === 'js' ? `${file}.mjs` : `out/${file}.js`;
          runnable.push({ origin: `${readme}:${line}`, language, file: runs });
        }
      }
    }
  });

  // skipLibCheck false, as in a project that checks every declaration file: ours, and @types/node with
  // them; TypeScript's own lib files are left out (skipDefaultLibCheck), which saves three quarters
  // of the time and no finding about ours.
  const strict = { strict: true, target: 'es2022', skipLibCheck: false, skipDefaultLibCheck: true, noEmit: true };
  const browser = join(scratch, 'browser');
  mkdirSync(join(browser, 'node_modules'), { recursive: true });
  cpSync(join(project, 'node_modules', '@mem'), join(browser, 'node_modules', '@mem'), { recursive: true });
  writeFileSync(join(browser, 'entries.ts'), typeScriptEntriesSource(entries.filter(({ nodeOnly }) => !nodeOnly)));
  const configurations = [
    {
      label: 'node16 (ESM, default lib, @types/node)',
      project,
      options: { module: 'node16', types: ['node'], noEmit: false, noEmitOnError: true, outDir: 'out', rootDir: '.' },
      files: ['entries.ts', ...readmeTypeScript],
    },
    {
      label: 'bundler resolution (default lib, @types/node)',
      project,
      options: { module: 'esnext', moduleResolution: 'bundler', types: ['node'] },
      files: ['entries.ts', ...readmeTypeScript],
    },
    {
      label: 'node20 without the DOM lib (ESM and CommonJS, lib es2023, @types/node)',
      project,
      options: { module: 'node20', lib: ['es2023'], types: ['node'] },
      files: ['entries.ts', 'entries.cts'],
    },
    {
      label: 'a browser project (lib es2022 + dom, no @types/node)',
      project: browser,
      options: { module: 'esnext', moduleResolution: 'bundler', lib: ['es2022', 'dom'], types: [] },
      files: ['entries.ts'],
    },
  ];
  for (const [index, { label, project: dir, options, files }] of configurations.entries()) {
    const config = `tsconfig.${index}.json`;
    writeJson(join(dir, config), { compilerOptions: { ...strict, ...options }, files });
    const blocks = files.filter((file) => origins.has(file)).length;
    const what = `${files.includes('entries.cts') ? 'imports and require()s' : 'imports'}${blocks ? ` and ${blocks} README blocks` : ''}`;
    await step(
      `tsc --strict, skipLibCheck false, ${label}: ${what}`,
      () => run(bin('tsc'), ['-p', config, '--pretty', 'false'], dir),
      explainTypeErrors(origins),
    );
  }

  for (const { origin, language, file } of runnable) {
    const how = language === 'js' ? 'as written' : 'compiled by tsc (node16)';
    await step(`node: the quick start at ${origin}, ${how}`, () => run('node', [file], project));
  }
} catch (error) {
  if (!(error instanceof StepFailed)) console.error(error);
  process.exitCode = 1;
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
