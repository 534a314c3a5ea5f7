import { createJsonLogger, loadConfig, startServer } from '@airlock/server';

export async function serveCommand(options: { host?: string; port?: number; dataDir?: string }): Promise<void> {
  const config = loadConfig({ host: options.host, port: options.port, dataDirectory: options.dataDir });
  const logger = createJsonLogger();
  // Listening for the signals before starting means a signal during start-up stops the server once it is up.
  const stopRequested = new Promise<NodeJS.Signals>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
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
      `Admin token for "airlock keys": ${config.adminToken ? '(from AIRLOCK_ADMIN_TOKEN)' : `${config.dataDirectory}/admin-token`}`,
      '',
    ].join('\n'),
  );
  logger.info('shutting down', { signal: await stopRequested });
  await server.close();
}
