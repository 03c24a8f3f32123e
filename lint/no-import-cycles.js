// Lint rule: no module may import (values or types) a module that leads back to it.
// import-x/no-cycle skips `import type` by design, but a type-level cycle ties modules
// together just the same, so this rule reads the import graph from the TypeScript program
// typescript-eslint already built (projectService), type-only imports included.
import path from 'node:path';
import ts from 'typescript';

/** program -> { edges: Map<file, Set<file>>, component: Map<file, number>, resolve }, built once per program. */
const graphs = new WeakMap();

function specifiersOf(sourceFile) {
  const found = [];
  for (const statement of sourceFile.statements) {
    const specifier = ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement) ? statement.moduleSpecifier : undefined;
    if (specifier !== undefined && ts.isStringLiteral(specifier)) found.push(specifier);
  }
  return found;
}

function resolver(program) {
  const options = program.getCompilerOptions();
  const cache = ts.createModuleResolutionCache(program.getCurrentDirectory(), (name) => name, options);
  return (sourceFile, specifier) => {
    const mode = ts.getModeForUsageLocation(sourceFile, specifier, options);
    const resolved = ts.resolveModuleName(specifier.text, sourceFile.fileName, options, ts.sys, cache, undefined, mode).resolvedModule;
    if (resolved === undefined || resolved.isExternalLibraryImport) return undefined;
    return path.resolve(resolved.resolvedFileName);
  };
}

// Tarjan's strongly connected components: two files are in one cycle iff they share a component.
function components(edges) {
  const index = new Map();
  const low = new Map();
  const component = new Map();
  const stack = [];
  const onStack = new Set();
  let next = 0;
  let count = 0;
  const visit = (file) => {
    index.set(file, next);
    low.set(file, next);
    next += 1;
    stack.push(file);
    onStack.add(file);
    for (const target of edges.get(file) ?? []) {
      if (!index.has(target)) {
        visit(target);
        low.set(file, Math.min(low.get(file), low.get(target)));
      } else if (onStack.has(target)) {
        low.set(file, Math.min(low.get(file), index.get(target)));
      }
    }
    if (low.get(file) === index.get(file)) {
      let member;
      do {
        member = stack.pop();
        onStack.delete(member);
        component.set(member, count);
      } while (member !== file);
      count += 1;
    }
  };
  for (const file of edges.keys()) if (!index.has(file)) visit(file);
  return component;
}

function graphOf(program) {
  let graph = graphs.get(program);
  if (graph !== undefined) return graph;
  const resolve = resolver(program);
  const edges = new Map();
  for (const sourceFile of program.getSourceFiles()) {
    if (sourceFile.isDeclarationFile || program.isSourceFileFromExternalLibrary(sourceFile)) continue;
    const targets = new Set();
    for (const specifier of specifiersOf(sourceFile)) {
      const target = resolve(sourceFile, specifier);
      if (target !== undefined) targets.add(target);
    }
    edges.set(path.resolve(sourceFile.fileName), targets);
  }
  graph = { edges, component: components(edges), resolve };
  graphs.set(program, graph);
  return graph;
}

// The shortest way back from `from` to `to` inside their component, for a message that shows the loop.
function pathBack(graph, from, to) {
  const cycle = graph.component.get(to);
  const previous = new Map([[from, undefined]]);
  const queue = [from];
  while (queue.length > 0) {
    const file = queue.shift();
    if (file === to) break;
    for (const target of graph.edges.get(file) ?? []) {
      if (previous.has(target) || graph.component.get(target) !== cycle) continue;
      previous.set(target, file);
      queue.push(target);
    }
  }
  const route = [];
  for (let file = to; file !== undefined; file = previous.get(file)) route.unshift(file);
  return route;
}

/** @type {import('eslint').Rule.RuleModule} */
export const noImportCycles = {
  meta: {
    type: 'problem',
    docs: { description: 'Forbid imports (type-only ones included) that close a cycle between modules.' },
    schema: [],
    messages: { cycle: 'import cycle: {{route}}' },
  },
  create(context) {
    const program = context.sourceCode.parserServices?.program;
    if (program === undefined || program === null) return {};
    const file = path.resolve(context.physicalFilename);
    const sourceFile = program.getSourceFile(file);
    if (sourceFile === undefined) return {};
    const graph = graphOf(program);
    const { resolve } = graph;
    const byText = new Map(specifiersOf(sourceFile).map((specifier) => [specifier.getStart(sourceFile), specifier]));
    const check = (node) => {
      if (node.source === null || node.source === undefined) return;
      const specifier = byText.get(node.source.range[0]);
      const target = specifier === undefined ? undefined : resolve(sourceFile, specifier);
      if (target === undefined || target === file || graph.component.get(target) !== graph.component.get(file)) return;
      const root = program.getCurrentDirectory();
      const route = [file, ...pathBack(graph, target, file)].map((f) => path.relative(root, f)).join(' -> ');
      context.report({ node, messageId: 'cycle', data: { route } });
    };
    return { ImportDeclaration: check, ExportNamedDeclaration: check, ExportAllDeclaration: check };
  },
};
