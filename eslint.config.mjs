// @ts-check
import tseslint from 'typescript-eslint';

const nodeBuiltins = [
  'assert', 'buffer', 'child_process', 'cluster', 'crypto', 'dgram', 'dns', 'events', 'fs', 'fs/promises', 'http',
  'http2', 'https', 'net', 'os', 'path', 'perf_hooks', 'process', 'readline', 'stream', 'timers', 'tls', 'url',
  'util', 'v8', 'vm', 'worker_threads', 'zlib',
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.temporal/**', '.data/**', 'bin/**', 'eslint.config.mjs'] },
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        // node:test's test()/describe() return promises the runner itself awaits
        { allowForKnownSafeCalls: [{ from: 'package', package: 'node:test', name: ['test', 'describe', 'it', 'suite'] }] },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { prefer: 'type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Workflow code runs in Temporal's deterministic sandbox: no Node built-ins, no I/O libraries.
    files: ['workflows/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        {
          paths: [
            ...nodeBuiltins.flatMap((name) => [
              { name, message: 'Workflow code must not import Node built-ins.' },
              { name: `node:${name}`, message: 'Workflow code must not import Node built-ins.' },
            ]),
            { name: 'undici', message: 'Workflow code does no I/O: call an activity.', allowTypeImports: true },
            { name: 'zod', message: 'Validate in the client or an activity, not in workflow code.', allowTypeImports: true },
          ],
          patterns: [
            {
              regex: '^(\\.\\./)+(src/(?!domain/)|activities(/|$))',
              message: 'Workflows import only src/domain/ (the shared domain); activities and other src modules as types only.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
  {
    // The shared domain is plain data and pure rules, imported by everyone, workflows included: it imports nothing of
    // ours but itself, and no library but @temporalio/common.
    files: ['src/domain/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(?!\\./|@temporalio/common(/|$))', message: 'src/domain/ imports only itself and @temporalio/common.' }] },
      ],
    },
  },
  {
    // The workflow bundle is evaluated once and shared by every workflow the worker runs (src/workflow-bundle.ts):
    // a module-level variable would be state one workflow leaks into the next.
    files: ['workflows/**/*.ts', 'src/domain/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "Program > VariableDeclaration[kind!='const'], Program > ExportNamedDeclaration > VariableDeclaration[kind!='const']",
          message: 'No module-level let or var in the workflow bundle: its modules are shared by every workflow (src/workflow-bundle.ts); keep state in the workflow function.',
        },
      ],
    },
  },
  {
    // The provider boundary (clients, simulator) knows the domain, never the workflows that orchestrate it.
    files: ['src/providers/**/*.ts', 'src/simulator/**/*.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^(\\.\\./)+(workflows|activities)(/|$)', message: 'Providers and the simulator never import workflows or activities.' }] },
      ],
    },
  },
  {
    // The CLI's entry (src/cli/main.ts) assembles the commands; commands and their helpers never import it back.
    files: ['src/cli/**/*.ts'],
    ignores: ['src/cli/main.ts'],
    rules: {
      '@typescript-eslint/no-restricted-imports': [
        'error',
        { patterns: [{ regex: '^\\.{1,2}/main$', message: 'CLI commands import session, args, output and errors, never the entry (main.ts).' }] },
      ],
    },
  },
);
