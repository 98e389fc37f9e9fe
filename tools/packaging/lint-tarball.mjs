// publint and are-the-types-wrong over a packed tarball, in this process (one TypeScript load for
// every package, where their command lines would load one each).
import { readFileSync } from 'node:fs';
import { checkPackage, createPackageFromTarballData } from '@arethetypeswrong/core';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';

// The packages are ES modules: what are-the-types-wrong reports for TypeScript's node10 resolution
// and for CommonJS under node16 (TS1479) is what the READMEs say is not supported (its `esm-only`
// profile).
const unsupportedResolutions = ['node10', 'node16-cjs'];

/** What publint (strict: warnings fail) and are-the-types-wrong find in the tarball at `path`. */
export async function lintTarball(path) {
  const data = new Uint8Array(readFileSync(path));
  const { messages, pkg } = await publint({ pack: { tarball: data.buffer }, strict: true });
  const problems = messages
    .filter(({ type }) => type !== 'suggestion')
    .map((message) => `publint: ${formatMessage(message, pkg)}`);
  const analysis = await checkPackage(createPackageFromTarballData(data));
  if (!analysis.types) problems.push('are-the-types-wrong: the package ships no types');
  else {
    problems.push(
      ...analysis.problems
        .filter((problem) => !unsupportedResolutions.includes(problem.resolutionKind))
        .map((problem) => `are-the-types-wrong: ${JSON.stringify(problem)}`),
    );
  }
  return problems;
}
