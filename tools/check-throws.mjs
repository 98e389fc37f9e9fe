#!/usr/bin/env node
// Checks that every documented error code is produced by a test.
//
// For every symbol a package exports (through `src/index.ts` and every subpath of its
// `exports`), each `@throws MemError CODE` line on a function, a class member or an interface
// member names a code; this check passes only when some spec of the same package holds one
// test (an `it`/`test` call) that both reaches the member and names the code. A test "reaches"
// a member when its text, or the text it draws on, contains `.member` (or `member(` for a
// function, `new Class(` for a constructor; protected and private members are not checked). The text a test draws on is its own, the tables
// its enclosing `for...of` loops iterate over, the `it.each` table, and the functions of its
// spec file and of the test helpers it imports that it calls (transitively).
//
// A "@throws as {@link Other.member}" line delegates and names no code of its own; codes named
// after it (`as {@link X}; INVALID_ARGUMENT for ...`) are checked.
//
// Usage: node tools/check-throws.mjs [--verbose]
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import ts from 'typescript';

const root = resolve(new URL('..', import.meta.url).pathname);
const verbose = process.argv.includes('--verbose');
const codePattern =
  /\b(INVALID_ARGUMENT|OVERSIZED|EXHAUSTED|LIMIT_EXCEEDED|DOUBLE_FREE|USE_AFTER_RELEASE|STALE_HANDLE|FOREIGN_HANDLE|IN_USE|PINNED|NOT_FOUND)\b/g;

/** The source entry points of a package: every `@mem/source` target of its `exports`. */
function entryPoints(packageDir) {
  const manifest = JSON.parse(readFileSync(join(packageDir, 'package.json'), 'utf8'));
  return Object.values(manifest.exports ?? {})
    .map((target) => (typeof target === 'object' ? target['@mem/source'] : undefined))
    .filter((path) => typeof path === 'string')
    .map((path) => join(packageDir, path));
}

function codesOf(text) {
  const delegated = /^\s*as \{@link [^}]*\}/.exec(text);
  const own = delegated ? text.slice(delegated[0].length) : text;
  if (/^\s*never\b/.test(own)) return [];
  return [...new Set(own.match(codePattern) ?? [])];
}

function throwsOf(node) {
  const codes = [];
  for (const tag of ts.getJSDocTags(node)) {
    if (tag.tagName.text !== 'throws') continue;
    const comment = typeof tag.comment === 'string' ? tag.comment : ts.getTextOfJSDocComment(tag.comment);
    codes.push(...codesOf(comment ?? ''));
  }
  return codes;
}

function isPublic(member) {
  const hidden = ts.ModifierFlags.Private | ts.ModifierFlags.Protected;
  return (ts.getCombinedModifierFlags(member) & hidden) === 0;
}

/** Every documented (member, code) pair of the package's public API. */
function documentedThrows(program, packageDir) {
  const entries = entryPoints(packageDir);
  const checker = program.getTypeChecker();
  const found = new Map();
  const add = (owner, name, reference, node) => {
    for (const code of throwsOf(node)) {
      const key = `${owner ? `${owner}.` : ''}${name} ${code}`;
      if (!found.has(key)) found.set(key, { owner, name, reference, code, file: node.getSourceFile().fileName });
    }
  };
  const seen = new Set();
  for (const entry of entries) {
    const source = program.getSourceFile(entry);
    const moduleSymbol = source && checker.getSymbolAtLocation(source);
    if (!moduleSymbol) continue;
    for (let symbol of checker.getExportsOfModule(moduleSymbol)) {
      if (symbol.flags & ts.SymbolFlags.Alias) symbol = checker.getAliasedSymbol(symbol);
      if (seen.has(symbol)) continue;
      seen.add(symbol);
      for (const declaration of symbol.declarations ?? []) {
        if (ts.isFunctionDeclaration(declaration)) {
          add(undefined, symbol.name, `${symbol.name}(`, declaration);
        } else if (ts.isClassDeclaration(declaration) || ts.isInterfaceDeclaration(declaration)) {
          for (const member of declaration.members) {
            if (ts.isConstructorDeclaration(member)) {
              add(symbol.name, 'constructor', `new ${symbol.name}(`, member);
            } else if (member.name && ts.isIdentifier(member.name) && isPublic(member)) {
              add(symbol.name, member.name.text, `.${member.name.text}`, member);
            }
          }
        }
      }
    }
  }
  return [...found.values()];
}

function specFiles(dir) {
  const files = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...specFiles(path));
    else if (entry.name.endsWith('.spec.ts')) files.push(path);
  }
  return files;
}

const testNames = new Set(['it', 'test']);

function isTestCall(node) {
  if (!ts.isCallExpression(node)) return false;
  let callee = node.expression;
  // it.each(table)(...) and it.skipIf(x)(...): the callee is itself a call.
  if (ts.isCallExpression(callee)) callee = callee.expression;
  while (ts.isPropertyAccessExpression(callee)) callee = callee.expression;
  return ts.isIdentifier(callee) && testNames.has(callee.text);
}

/** The texts every test of one spec file draws on, one string per test. */
function testTexts(path) {
  const source = ts.createSourceFile(path, readFileSync(path, 'utf8'), ts.ScriptTarget.ES2022, true);
  const declarations = new Map();
  const collect = (node) => {
    if (ts.isFunctionDeclaration(node) && node.name) declarations.set(node.name.text, node);
    if (ts.isVariableDeclaration(node) && ts.isIdentifier(node.name) && node.initializer) {
      declarations.set(node.name.text, node.initializer);
    }
    ts.forEachChild(node, collect);
  };
  collect(source);
  // The spec's own test helpers (`./x.test-helper.js`) count as its text too.
  for (const statement of source.statements) {
    const specifier = ts.isImportDeclaration(statement) && statement.moduleSpecifier.text;
    if (!specifier || !/^\.\.?\/.*\.test-helper\.js$/.test(specifier)) continue;
    const helperPath = join(dirname(path), specifier.replace(/\.js$/, '.ts'));
    if (existsSync(helperPath)) {
      collect(ts.createSourceFile(helperPath, readFileSync(helperPath, 'utf8'), ts.ScriptTarget.ES2022, true));
    }
  }

  const expand = (node, texts, visited) => {
    texts.push(node.getText());
    const visit = (child) => {
      if (ts.isIdentifier(child) && declarations.has(child.text) && !visited.has(child.text)) {
        const declaration = declarations.get(child.text);
        if (
          ts.isFunctionDeclaration(declaration) ||
          ts.isArrowFunction(declaration) ||
          ts.isFunctionExpression(declaration)
        ) {
          visited.add(child.text);
          expand(declaration, texts, visited);
        }
      }
      ts.forEachChild(child, visit);
    };
    ts.forEachChild(node, visit);
  };

  const tables = (node) => {
    const texts = [];
    if (ts.isCallExpression(node.expression)) texts.push(node.expression.getText(source));
    for (let parent = node.parent; parent; parent = parent.parent) {
      if (!ts.isForOfStatement(parent)) continue;
      texts.push(parent.expression.getText(source));
      if (ts.isIdentifier(parent.expression) && declarations.has(parent.expression.text)) {
        texts.push(declarations.get(parent.expression.text).getText());
      }
    }
    return texts;
  };

  const result = [];
  const walk = (node) => {
    if (isTestCall(node)) {
      const texts = tables(node);
      expand(node, texts, new Set());
      result.push(texts.join('\n'));
    }
    ts.forEachChild(node, walk);
  };
  walk(source);
  return result;
}

function reaches(text, reference) {
  const escaped = reference.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const tail = reference.endsWith('(') ? '' : '(?![\\w$])';
  return new RegExp(`${escaped}${tail}`).test(text);
}

function namesCode(text, code) {
  return new RegExp(`['"\`.]${code}(?![\\w$])`).test(text);
}

const packages = readdirSync(join(root, 'packages'))
  .sort()
  .filter((name) => existsSync(join(root, 'packages', name, 'package.json')));
// One program over every entry point: the packages import each other's sources, so they share it.
const program = ts.createProgram(
  packages.flatMap((name) => entryPoints(join(root, 'packages', name))),
  {
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.NodeNext,
    moduleResolution: ts.ModuleResolutionKind.NodeNext,
    customConditions: ['@mem/source'],
    allowImportingTsExtensions: true,
    noEmit: true,
    types: [],
  },
);
let missing = 0;
let checked = 0;
for (const name of packages) {
  const packageDir = join(root, 'packages', name);
  const documented = documentedThrows(program, packageDir);
  const texts = specFiles(join(packageDir, 'src')).flatMap(testTexts);
  const gaps = documented.filter(
    ({ reference, code }) => !texts.some((text) => reaches(text, reference) && namesCode(text, code)),
  );
  checked += documented.length;
  missing += gaps.length;
  console.log(
    `packages/${name}: ${documented.length - gaps.length}/${documented.length} documented error codes produced by a test`,
  );
  for (const gap of gaps) {
    const where = relative(root, gap.file);
    console.log(`  no test of ${gap.owner ? `${gap.owner}.` : ''}${gap.name} names ${gap.code} (${where})`);
  }
  if (verbose) for (const entry of documented) console.log(`  ${entry.owner ?? ''}.${entry.name} ${entry.code}`);
}
console.log(`${checked - missing}/${checked} documented error codes produced by a test`);
process.exitCode = missing === 0 ? 0 : 1;
