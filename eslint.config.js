// Lint for the whole repository: typescript-eslint's recommended rules, plus the
// house rule that only the CLI exits the process (libraries throw or return).
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', 'bench/.work/**', 'examples/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: globals.node },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'exit', message: 'Only src/cli exits the process; throw or return instead.' }],
    },
  },
  {
    files: ['packages/airlock/src/cli/**', 'packages/airlock/bin/**', 'packages/runtime/src/serve/**', 'packages/airlock/src/swap/bind-helper.ts', 'packages/airlock/src/proxy/worker-main.ts', 'bench/**', 'scripts/**', 'test/fixtures/**'],
    rules: { 'no-restricted-properties': 'off' },
  },
);
