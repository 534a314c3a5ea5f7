import { readFileSync } from 'node:fs';
import { dataDirectoryLayout, loadConfig } from '@airlock/server';
import { CommandError } from './run-command.js';

/** How admin commands find the server's admin token. */
export interface AdminOptions {
  dataDir?: string;
  organization: string;
}

/** @default AIRLOCK_ADMIN_TOKEN environment variable, then the token file of the data directory (--data-dir) */
export function adminToken(options: Pick<AdminOptions, 'dataDir'>): string {
  const config = loadConfig({ dataDirectory: options.dataDir });
  if (config.adminToken) return config.adminToken;
  const path = dataDirectoryLayout(config.dataDirectory).adminToken;
  try {
    return readFileSync(path, 'utf8').trim();
  } catch {
    throw new CommandError(`no admin token: set AIRLOCK_ADMIN_TOKEN or pass --data-dir of the server (${path} not readable)`);
  }
}
