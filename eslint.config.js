// Lint rules that carry weight: no floating promises anywhere, and workflow
// code cannot reach I/O (Node built-ins, undici, prom-client, the router), and no
// import cycles, type-only imports included.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { builtinModules } from 'node:module';
import { noImportCycles } from './lint/no-import-cycles.js';

const nodeBuiltins = builtinModules.flatMap((m) => [m, `node:${m}`]);

export default tseslint.config(
  { ignores: ['dist/', 'node_modules/', '.tools/', 'bench/out/', 'test/histories/'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    languageOptions: { parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname } },
    plugins: { saferoll: { rules: { 'no-import-cycles': noImportCycles } } },
    rules: {
      'saferoll/no-import-cycles': 'error',
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': ['error', { checksVoidReturn: false }],
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: [...nodeBuiltins, 'undici', 'prom-client'].map((name) => ({ name, message: 'workflow code must stay deterministic: do I/O in an activity' })),
          patterns: [
            { group: ['**/router/**', '**/activities/*', '!**/activities/types*'], message: 'workflows import activity types only, never the router' },
          ],
        },
      ],
      'no-restricted-globals': ['error', { name: 'fetch', message: 'no I/O in workflow code' }, { name: 'setInterval', message: 'use the SDK sleep' }],
      'no-restricted-properties': ['error', { object: 'Math', property: 'random', message: 'use the SDK deterministic random' }],
    },
  },
  {
    // The folders depend one way (DESIGN.md's table): the workflow imports activity types, never the reverse.
    files: ['activities/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['**/workflows/**', '**/cli/**', '**/worker/**'],
              message: 'activities serve the workflow and never import it: share a type through shared/ or activities/types.ts',
            },
          ],
        },
      ],
    },
  },
  {
    files: ['router/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            { group: ['**/workflows/**', '**/activities/**', '**/cli/**', '**/worker/**'], message: 'the routing core knows nothing of its controller or CLI' },
          ],
        },
      ],
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    ...tseslint.configs.disableTypeChecked,
  },
);
