#!/usr/bin/env node
// Runs the quick start of every package README as written: the ```ts blocks under the
// "## Quick start" heading of packages/*/README.md are joined and run with tsx, resolving the
// packages from source (so no build is needed). Fails if any example throws.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(new URL('..', import.meta.url).pathname);
const scratch = join(root, '.tmp', 'readme-examples');

function quickStart(markdown) {
  const section = markdown.split(/^## /m).find((part) => part.startsWith('Quick start'));
  if (!section) return undefined;
  return /^```(?:ts|js)\n([\s\S]*?)^```$/m.exec(section)?.[1];
}

mkdirSync(scratch, { recursive: true });
let failed = false;
try {
  for (const dir of readdirSync(join(root, 'packages'))) {
    const readme = join(root, 'packages', dir, 'README.md');
    if (!existsSync(readme)) continue;
    const code = quickStart(readFileSync(readme, 'utf8'));
    if (code === undefined) {
      console.log(`packages/${dir}/README.md: no "## Quick start" with a ts or js block ... FAILED`);
      failed = true;
      continue;
    }
    const file = join(scratch, `${dir}.ts`);
    writeFileSync(file, code);
    process.stdout.write(`packages/${dir}/README.md quick start ... `);
    try {
      execFileSync(join(root, 'node_modules', '.bin', 'tsx'), ['--conditions=@mem/source', file], {
        cwd: root,
        stdio: ['ignore', 'pipe', 'pipe'],
        timeout: 60_000,
      });
      console.log('ok');
    } catch (error) {
      console.log('FAILED');
      console.error(String(error.stdout ?? ''), String(error.stderr ?? error));
      failed = true;
    }
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
process.exit(failed ? 1 : 0);
