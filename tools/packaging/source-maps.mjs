// Source maps that lead somewhere: in an installed package, every `sourceMappingURL` comment names a
// map that is there, and every source a map names is either a file of the package or embedded in
// the map (`sourcesContent`).
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

function filesUnder(dir) {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)],
  );
}

/** The dead ends of the source maps of the package installed at `dir`, as readable lines. */
export function sourceMapDeadEnds(dir) {
  const problems = [];
  const files = filesUnder(dir);
  const inside = (path) => !relative(dir, path).startsWith('..') && existsSync(path);
  for (const file of files.filter((path) => /\.(js|d\.ts)$/.test(path))) {
    const url = /\/\/# sourceMappingURL=(\S+)\s*$/.exec(readFileSync(file, 'utf8'))?.[1];
    if (url && !url.startsWith('data:') && !inside(resolve(dirname(file), url))) {
      problems.push(`${relative(dir, file)}: its source map ${url} is not in the package`);
    }
  }
  for (const map of files.filter((path) => path.endsWith('.map'))) {
    const { sources = [], sourcesContent = [], sourceRoot = '' } = JSON.parse(readFileSync(map, 'utf8'));
    if (sources.length === 0) problems.push(`${relative(dir, map)}: names no sources`);
    sources.forEach((source, index) => {
      if (typeof sourcesContent[index] === 'string') return;
      if (!inside(resolve(dirname(map), sourceRoot, source))) {
        problems.push(`${relative(dir, map)}: source ${source} is neither in the package nor embedded`);
      }
    });
  }
  return problems;
}
