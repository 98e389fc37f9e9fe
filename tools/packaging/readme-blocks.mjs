// The code blocks of a package README that the packaging check compiles and runs:
//   - the quick start: every ```js and ```ts block under "## Quick start" (it must hold a js block,
//     the one a plain Node user runs);
//   - every ```ts block of the README (type-checked, and run when it is part of the quick start).
import { readFileSync } from 'node:fs';

/**
 * The ```js and ```ts blocks of a Markdown file, each with its language, the line its code starts
 * on and whether it belongs to the "## Quick start" section.
 */
export function readmeBlocks(path) {
  const text = readFileSync(path, 'utf8');
  const lines = text.split('\n');
  const blocks = [];
  let section = '';
  let block;
  lines.forEach((line, index) => {
    if (block) {
      if (line === '```') {
        blocks.push({ ...block, code: `${block.code.join('\n')}\n` });
        block = undefined;
      } else block.code.push(line);
      return;
    }
    if (line.startsWith('## ')) section = line.slice(3).trim();
    const fence = /^```(js|ts)$/.exec(line);
    if (fence) block = { language: fence[1], line: index + 2, quickStart: section === 'Quick start', code: [] };
    else if (line.startsWith('```')) block = { language: 'other', line: index + 2, quickStart: false, code: [] };
  });
  return blocks.filter(({ language }) => language !== 'other');
}
