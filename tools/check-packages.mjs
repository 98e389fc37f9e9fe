#!/usr/bin/env node
// The packaging check of `npm test`. For every publishable package (packages/* without "private"):
//   1. publint and are-the-types-wrong lint its package.json against what it ships;
//   2. `npm pack` it (the tarball must hold the root's LICENSE), install all the tarballs into an empty temporary project (with nothing of the
//      monorepo: only the tarballs, their runtime dependencies and @types/node);
//   3. import every export path there from plain Node ESM, and type-check the same imports with
//      TypeScript (moduleResolution nodenext).
// Packages must be built first (`npm test` builds before it runs this).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const bin = (name) => join(root, 'node_modules', '.bin', name);
const run = (command, args, cwd) =>
  execFileSync(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8' });

function publishablePackages() {
  return readdirSync(join(root, 'packages'))
    .map((dir) => join(root, 'packages', dir))
    .filter((dir) => existsSync(join(dir, 'package.json')))
    .map((dir) => ({ dir, manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) }))
    .filter(({ manifest }) => !manifest.private);
}

function exportSpecifiers({ manifest }) {
  return Object.keys(manifest.exports ?? { '.': null })
    .filter((subpath) => subpath !== './package.json' && !subpath.includes('*'))
    .map((subpath) => (subpath === '.' ? manifest.name : `${manifest.name}${subpath.slice(1)}`));
}

function step(label, action) {
  process.stdout.write(`${label} ... `);
  try {
    const output = action();
    console.log('ok');
    return output;
  } catch (error) {
    console.log('FAILED');
    console.error(error.stdout ?? '', error.stderr ?? '', error.stdout || error.stderr ? '' : error);
    process.exit(1);
  }
}

const packages = publishablePackages();
const scratch = mkdtempSync(join(tmpdir(), 'mem-pack-'));
try {
  for (const pkg of packages) {
    if (!existsSync(join(pkg.dir, 'dist'))) {
      console.error(`${pkg.manifest.name} is not built: run \`npm run build\` first`);
      process.exit(1);
    }
    step(`publint ${pkg.manifest.name}`, () => run(bin('publint'), ['--strict'], pkg.dir));
    step(`attw ${pkg.manifest.name}`, () =>
      run(bin('attw'), ['--pack', '.', '--profile', 'esm-only', '--format', 'ascii'], pkg.dir),
    );
  }

  const tarballs = packages.map((pkg) =>
    step(`npm pack ${pkg.manifest.name}`, () => {
      const [{ filename, files }] = JSON.parse(run('npm', ['pack', '--json', '--pack-destination', scratch], pkg.dir));
      const license = readFileSync(join(pkg.dir, 'LICENSE'), 'utf8');
      if (!files.some(({ path }) => path === 'LICENSE') || license !== readFileSync(join(root, 'LICENSE'), 'utf8')) {
        throw new Error(`${pkg.manifest.name}: the tarball must ship LICENSE, the same text as the root LICENSE`);
      }
      return join(scratch, filename);
    }),
  );

  const project = join(scratch, 'consumer');
  execFileSync('mkdir', ['-p', project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
  const nodeTypes = JSON.parse(readFileSync(join(root, 'node_modules/@types/node/package.json'), 'utf8')).version;
  step('install the tarballs into an empty project', () =>
    run(
      'npm',
      ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs, `@types/node@${nodeTypes}`],
      project,
    ),
  );

  const specifiers = packages.flatMap(exportSpecifiers);
  const checks = specifiers.map(
    (specifier, index) =>
      `import * as m${index} from '${specifier}';\n` +
      `if (Object.keys(m${index}).length === 0) throw new Error('${specifier} exports nothing');`,
  );
  writeFileSync(
    join(project, 'check.mjs'),
    `${checks.join('\n')}\nconsole.log('imported ${specifiers.length} entry points');\n`,
  );
  writeFileSync(join(project, 'check.ts'), `${checks.join('\n')}\nexport {};\n`);
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        target: 'ES2022',
        lib: ['ES2022', 'esnext.disposable', 'DOM'],
        module: 'nodenext',
        moduleResolution: 'nodenext',
        strict: true,
        noEmit: true,
        types: ['node'],
      },
      files: ['check.ts'],
    }),
  );
  step(`import ${specifiers.join(', ')} from plain Node ESM`, () => run('node', ['check.mjs'], project));
  step('type-check the same imports with TypeScript', () => run(bin('tsc'), ['-p', 'tsconfig.json'], project));
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
