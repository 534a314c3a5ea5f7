import js from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.cache/**', '.venv-test/**', '.venv-python-sdk/**', 'packages/runtime/stubs/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-syntax': [
        'error',
        { selector: 'ExportAllDeclaration', message: 'Use named exports; each package surface is deliberate.' },
      ],
    },
  },
  {
    files: ['packages/**/src/**/*.ts'],
    ignores: ['packages/server/src/config.ts', 'packages/cli/src/**', '**/*.test.ts'],
    rules: {
      'no-restricted-properties': [
        'error',
        { object: 'process', property: 'env', message: 'Only packages/server/src/config.ts reads process.env.' },
      ],
    },
  },
);
