#!/usr/bin/env node
// Type-checks every example of the TSDoc we ship: each ```ts block of an `@example` in
// packages/*/src, compiled on its own as a module under `strict`, importing the packages from
// source. (The README blocks are compiled and run from the packed tarballs, in an empty project,
// by check-packages.mjs.)
//
// Usage: node tools/check-examples.mjs
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const scratch = join(root, '.tmp', 'examples');

function sourceFiles(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return /\.ts$/.test(entry.name) && !/\.(spec|test-worker|test-helper)\.ts$/.test(entry.name) ? [path] : [];
  });
}

/** The ```ts blocks of the `@example` tags of a source file, with the line each starts on. */
function tsdocExamples(path) {
  const lines = readFileSync(path, 'utf8').split('\n');
  const examples = [];
  let inExample = false;
  let block;
  lines.forEach((line, index) => {
    const text = line.replace(/^\s*\* ?/, '');
    if (/^\s*\*\/\s*$/.test(line) || /^\s*\/\*\*/.test(line)) inExample = false;
    if (text.startsWith('@example')) inExample = true;
    else if (text.startsWith('@') && block === undefined) inExample = false;
    if (!inExample) return;
    if (block === undefined && /^```(ts|typescript)\s*$/.test(text)) block = { line: index + 2, code: [] };
    else if (block !== undefined && /^```\s*$/.test(text)) {
      examples.push({ line: block.line, code: block.code.join('\n') });
      block = undefined;
    } else if (block !== undefined) block.code.push(text);
  });
  return examples;
}

rmSync(scratch, { recursive: true, force: true });
mkdirSync(scratch, { recursive: true });
const origins = new Map();
let count = 0;
for (const name of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', name);
  if (!existsSync(join(dir, 'package.json'))) continue;
  const found = sourceFiles(join(dir, 'src')).flatMap((path) =>
    tsdocExamples(path).map((example) => ({ path, ...example })),
  );
  for (const { path, line, code } of found) {
    count += 1;
    const file = join(scratch, `${name}-${count}.ts`);
    // Each example is a module of its own, so that two examples may declare the same names.
    writeFileSync(file, `${code}\nexport {};\n`);
    origins.set(relative(root, file), `${relative(root, path)}:${line}`);
  }
}
writeFileSync(
  join(scratch, 'tsconfig.json'),
  JSON.stringify({
    extends: '../../tsconfig.base.json',
    compilerOptions: {
      strict: true,
      noEmit: true,
      noUnusedLocals: false,
      noUnusedParameters: false,
      types: ['node'],
      rootDir: '.',
    },
    include: ['*.ts'],
  }),
);

try {
  execFileSync(join(root, 'node_modules', '.bin', 'tsc'), ['-p', join(scratch, 'tsconfig.json'), '--pretty', 'false'], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  console.log(`${count} examples type-check under strict`);
} catch (error) {
  // Map every diagnostic back to the file and line the example came from.
  const output = String(error.stdout ?? '') + String(error.stderr ?? '');
  for (const line of output.split('\n').filter(Boolean)) {
    const match = /^(\.tmp\/examples\/[^(]+)\((\d+),(\d+)\): (.*)$/.exec(line);
    const origin = match && origins.get(match[1]);
    if (!origin) {
      console.error(line);
      continue;
    }
    const [path, start] = origin.split(':');
    console.error(`${path}:${Number(start) + Number(match[2]) - 1}: ${match[4]}`);
  }
  console.error(`examples that do not type-check under strict (of ${count})`);
  process.exitCode = 1;
}
