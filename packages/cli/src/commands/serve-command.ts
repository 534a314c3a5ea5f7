import { formatHostCheck, hostCanRun } from '@airlock/runtime';
import { createJsonLogger, dataDirectoryLayout, loadConfig, startServer } from '@airlock/server';
import { checkHost } from '../host-check.js';
import { parentExited } from '../parent-watch.js';
import { CommandError } from '../run-command.js';

export async function serveCommand(options: { host?: string; port?: number; dataDir?: string }): Promise<void> {
  const config = loadConfig({ host: options.host, port: options.port, dataDirectory: options.dataDir });
  const checks = await checkHost(config);
  for (const check of checks) {
    if (check.status !== 'ok') process.stderr.write(`airlock: ${formatHostCheck(check)}\n`);
  }
  if (!hostCanRun(checks)) {
    throw new CommandError('this host cannot run Airlock: fix the lines marked "fail" ("airlock doctor" lists every check)');
  }
  const logger = createJsonLogger();
  // Listening before starting means a stop requested during start-up stops the server once it is up.
  const stopRequested = new Promise<string>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
    void parentExited().then(() => resolve('parent process exited'));
  });
  const server = await startServer({
    config,
    logger,
    onImageProgress: (line) => process.stderr.write(`[image] ${line}\n`),
  });
  const key = server.createdApiKey?.key;
  const shownKey = key ?? '<your API key>';
  process.stdout.write(
    [
      '',
      `Airlock is running at ${server.url}`,
      key ? `\nAPI key (shown once, keep it): ${key}\n` : '',
      'Run code:',
      `  curl -s ${server.url}/v1/sandbox/execute \\`,
      `    -H 'Authorization: Bearer ${shownKey}' -H 'Content-Type: application/json' \\`,
      `    -d '{"code": "print(\\"hello from the sandbox\\")", "language": "python"}'`,
      '',
      `Admin token for "airlock keys": ${config.adminToken ? '(from AIRLOCK_ADMIN_TOKEN)' : dataDirectoryLayout(config.dataDirectory).adminToken}`,
      server.signInLink
        ? `Console sign-in for the owner (${config.ownerEmail}; works once, until ${server.signInLink.expiresAt.toISOString()}):\n  ${server.signInLink.url}`
        : `Console sign-in: ${config.publicUrl ?? server.url}/auth/oidc/login`,
      '',
    ].join('\n'),
  );
  logger.info('shutting down', { reason: await stopRequested });
  await server.close();
}
