#!/usr/bin/env node
// Scaffolds a publishable package: `npm run new-package -- <name> "<description>"`.
// Creates packages/<name> with the same layout as @mem/types (package.json with the @mem/source
// export condition, tsconfig.{json,lib.json,spec.json}, vitest.config.ts, typedoc.json, LICENSE,
// README.md, src/index.ts), then runs `nx sync` so the project references stay in step.
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [name, description = ''] = process.argv.slice(2);
if (!name || !/^[a-z][a-z0-9-]*$/.test(name)) {
  console.error('usage: npm run new-package -- <kebab-case-name> "<description>"');
  process.exit(1);
}
const root = new URL('..', import.meta.url).pathname;
const template = join(root, 'packages', 'types');
const target = join(root, 'packages', name);
if (existsSync(target)) {
  console.error(`packages/${name} already exists`);
  process.exit(1);
}
mkdirSync(join(target, 'src'), { recursive: true });

const manifest = JSON.parse(readFileSync(join(template, 'package.json'), 'utf8'));
manifest.name = `@mem/${name}`;
manifest.version = '0.0.0';
manifest.description = description;
manifest.keywords = ['memory'];
// One export path to begin with; a subpath added later also goes into typedoc.json.
manifest.exports = { './package.json': './package.json', '.': manifest.exports['.'] };
manifest.dependencies = {
  '@mem/types': `^${JSON.parse(readFileSync(join(template, 'package.json'), 'utf8')).version}`,
};
writeFileSync(join(target, 'package.json'), `${JSON.stringify(manifest, null, 2)}\n`);

for (const file of ['tsconfig.json', 'tsconfig.lib.json', 'tsconfig.spec.json', 'vitest.config.ts']) {
  writeFileSync(join(target, file), readFileSync(join(template, file), 'utf8'));
}
writeFileSync(join(target, 'LICENSE'), readFileSync(join(root, 'LICENSE'), 'utf8'));
writeFileSync(
  join(target, 'typedoc.json'),
  `${JSON.stringify({ $schema: 'https://typedoc.org/schema.json', entryPoints: ['src/index.ts'] }, null, 2)}\n`,
);
writeFileSync(
  join(target, 'src', 'index.ts'),
  `/**\n * \`@mem/${name}\`: ${description}\n *\n * This module is browser compatible.\n * @module \\@mem/${name}\n */\nexport {};\n`,
);
// The README layout every package has (the packaging check runs its quick start).
writeFileSync(
  join(target, 'README.md'),
  `# @mem/${name}

${description}

\`\`\`sh
npm install @mem/${name}
\`\`\`

**Requirements.** An ES module for Node.js 20.19 or later and browsers. CommonJS code can
\`require('@mem/${name}')\` on Node.js 20.19+, which loads ES modules through \`require\`; a TypeScript
CommonJS project needs \`"module": "nodenext"\` (TypeScript 5.8+) or \`"node20"\` (5.9+), as \`"node16"\`
refuses to import an ES module (TS1479). The types need no \`lib\` setting and no \`@types/node\`.

## Quick start

Save as \`quick-start.mjs\` and run \`node quick-start.mjs\`:

\`\`\`js
import * as pkg from '@mem/${name}';

console.log(Object.keys(pkg));
\`\`\`
`,
);

execFileSync('npm', ['install', '--no-audit', '--no-fund'], { cwd: root, stdio: 'inherit' });
execFileSync('npx', ['nx', 'sync'], { cwd: root, stdio: 'inherit' });
console.log(`created packages/${name}; add a changeset with \`npm run changeset\``);
