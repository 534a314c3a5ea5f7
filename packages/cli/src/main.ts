#!/usr/bin/env node
import { Command, InvalidArgumentError } from 'commander';
import { doctorCommand } from './commands/doctor-command.js';
import { execCommand } from './commands/exec-command.js';
import { imagesBuildCommand, imagesImportCommand, imagesListCommand, imagesRemoveCommand } from './commands/images-command.js';
import { keysCreateCommand, keysListCommand, keysRevokeCommand, keysRotateCommand } from './commands/keys-command.js';
import { serveCommand } from './commands/serve-command.js';
import { runCommand } from './run-command.js';

const program = new Command('airlock').description('Sandboxed code execution for AI agents').showHelpAfterError();

function portNumber(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new InvalidArgumentError('must be 0-65535');
  return port;
}

program
  .command('serve')
  .description('start the Airlock server (builds the default image on first start)')
  .option('--host <host>', 'address to listen on (env AIRLOCK_HOST, default 127.0.0.1)')
  .option('--port <port>', 'port to listen on (env AIRLOCK_PORT, default 8080)', portNumber)
  .option('--data-dir <dir>', 'data directory (env AIRLOCK_DATA_DIR; default /var/lib/airlock as root)')
  .action((options) => runCommand(() => serveCommand(options)));

program
  .command('doctor')
  .description('check that this host can run Airlock: one line per requirement, exit code 0 when it can')
  .option('--data-dir <dir>', 'data directory (env AIRLOCK_DATA_DIR; default /var/lib/airlock as root)')
  .action((options) => runCommand(() => doctorCommand(options)));

program
  .command('exec')
  .description('run code on a server (env AIRLOCK_URL, AIRLOCK_API_KEY)')
  .argument('<file>', 'file with the code, or - for standard input')
  .option('-l, --language <language>', 'python, node or bash', 'python')
  .option('-t, --thread <id>', 'thread id for a persistent home directory')
  .option('--timeout <seconds>', 'timeout in seconds', (value) => Number(value))
  .action((file, options) => runCommand(() => execCommand(file, options)));

const keys = program.command('keys').description('manage API keys (env AIRLOCK_URL, AIRLOCK_ADMIN_TOKEN)');
const adminOptions = (command: Command): Command =>
  command
    .option('--data-dir <dir>', 'read the admin token from this data directory when AIRLOCK_ADMIN_TOKEN is unset')
    .option('--organization <slug>', 'organization', 'default');
adminOptions(keys.command('create').description('create an API key (printed once)'))
  .requiredOption('--name <name>', 'a name for the key')
  .option('--sandbox <name>', 'sandbox config the key uses', 'default')
  .action((options) => runCommand(() => keysCreateCommand(options)));
adminOptions(keys.command('list').description('list API keys'))
  .action((options) => runCommand(() => keysListCommand(options)));
adminOptions(keys.command('revoke').description('revoke an API key').argument('<id>', 'key id (key_...)'))
  .action((id, options) => runCommand(() => keysRevokeCommand(id, options)));
adminOptions(keys.command('rotate').description("replace an API key's secret (printed once); the old one stops working").argument('<id>', 'key id (key_...)'))
  .action((id, options) => runCommand(() => keysRotateCommand(id, options)));

const images = program
  .command('images')
  .description('runtime images: the catalog of a running server (env AIRLOCK_URL, AIRLOCK_ADMIN_TOKEN)');
const imageOptions = (command: Command): Command =>
  command.option('--data-dir <dir>', 'read the admin token from this data directory when AIRLOCK_ADMIN_TOKEN is unset');
imageOptions(images.command('list').description('list the images: status, source, version, size, languages'))
  .action((options) => runCommand(() => imagesListCommand(options)));
imageOptions(images.command('build').description('build a recipe image, following its progress').argument('[name]', 'recipe image', 'default'))
  .option('--local', "build into the data directory's images (AIRLOCK_IMAGES_DIR) without a server, e.g. to pre-build them")
  .option('--force', 'with --local: rebuild even if the current version exists')
  .action((name, options) => runCommand(() => imagesBuildCommand(name, options)));
imageOptions(
  images
    .command('import')
    .description('import an OCI image from a registry or an archive, following its progress')
    .argument('<name>', 'the name sandbox configs will use')
    .argument('[reference]', 'registry/name:tag or registry/name@sha256:<digest>'),
)
  .option('--archive <file>', 'an OCI layout or `docker save` tar instead of a registry reference')
  .option('--username <name>', 'registry user name (with --password-stdin)')
  .option('--password-stdin', 'read the registry password from standard input')
  .option('--no-tls-verify', 'the registry speaks plain HTTP or has a certificate that cannot be verified')
  .action((name, reference, options) => runCommand(() => imagesImportCommand(name, reference, options)));
imageOptions(images.command('remove').description('remove an image no sandbox config uses').argument('<name>', 'image name'))
  .action((name, options) => runCommand(() => imagesRemoveCommand(name, options)));

await program.parseAsync();
