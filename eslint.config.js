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
    // The web tools' Node.js module, installed into images: a CommonJS file of Node's own.
    files: ['packages/runtime/images/web-tools/*.cjs'],
    languageOptions: { sourceType: 'commonjs', globals: { require: 'readonly', exports: 'writable', process: 'readonly' } },
    rules: { '@typescript-eslint/no-require-imports': 'off' },
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
