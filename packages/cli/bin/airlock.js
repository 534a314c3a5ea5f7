#!/usr/bin/env node
// The `airlock` command as npm links it. This file is in the repository, so `npm install` links it whether or not
// the CLI has been built yet; the command itself is the built dist/main.js.
import process from 'node:process';

try {
  await import('../dist/main.js');
} catch (error) {
  if (error?.code !== 'ERR_MODULE_NOT_FOUND' || !String(error.message).includes('/dist/main.js')) throw error;
  process.stderr.write('airlock: the command is not built yet; run: bash scripts/setup.sh (or npm run build)\n');
  process.exitCode = 1;
}
