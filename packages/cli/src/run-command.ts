import { DatabaseUsageError, MigrationError } from '@airlock/db';
import { ConfigError } from '@airlock/server';
import { ImageBuildError, RuntimeUnavailableError } from '@airlock/runtime';

export class CommandError extends Error {
  override readonly name = 'CommandError';
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
  }
}

const EXPECTED_ERRORS = [CommandError, ConfigError, DatabaseUsageError, MigrationError, ImageBuildError, RuntimeUnavailableError];

/** Runs a command; expected failures print one clear line instead of a stack trace. */
export async function runCommand(command: () => Promise<number | void>): Promise<void> {
  try {
    const exitCode = await command();
    if (typeof exitCode === 'number') process.exitCode = exitCode;
  } catch (error) {
    if (EXPECTED_ERRORS.some((kind) => error instanceof kind)) {
      process.stderr.write(`airlock: ${(error as Error).message}\n`);
      process.exitCode = error instanceof CommandError ? error.exitCode : 1;
      return;
    }
    throw error;
  }
}
