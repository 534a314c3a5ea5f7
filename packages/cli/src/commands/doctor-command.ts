import { loadConfig } from '@airlock/server';
import { formatHostCheck, hostCanRun } from '@airlock/runtime';
import { checkHost } from '../host-check.js';

/** Prints one line per host check; exit code 0 when Airlock can run here. */
export async function doctorCommand(options: { dataDir?: string }): Promise<number> {
  const config = loadConfig({ dataDirectory: options.dataDir });
  const checks = await checkHost(config);
  for (const check of checks) process.stdout.write(`${formatHostCheck(check)}\n`);
  if (hostCanRun(checks)) {
    process.stdout.write('Airlock can run on this host.\n');
    return 0;
  }
  process.stdout.write('Airlock cannot run on this host: fix the lines marked "fail".\n');
  return 1;
}
