import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { ImageImportError } from './image-import-error.js';

/** The variables image tools run with: a fixed PATH and what the caller adds, nothing of the server's environment. */
const TOOL_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** How many of a tool's last lines a failure quotes. */
const TAIL_LINES = 30;

export interface ToolRun {
  command: string;
  args: string[];
  /** Added to PATH; HOME and TMPDIR should point into the work's own directory. */
  environment: Record<string, string>;
  /** Debian package that provides the command, for the message when it is missing. */
  debianPackage: string;
  /** Each line the tool writes to stdout or stderr. */
  onLine: (line: string) => void;
}

/** Runs an image tool to completion; a non-zero exit is an ImageImportError quoting its last lines. */
export function runTool(run: ToolRun): Promise<void> {
  const name = run.command.split('/').pop();
  const tail: string[] = [];
  return new Promise<void>((resolve, reject) => {
    const child = spawn(run.command, run.args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: TOOL_PATH, ...run.environment },
    });
    const onLine = (line: string): void => {
      tail.push(line);
      if (tail.length > TAIL_LINES) tail.shift();
      run.onLine(line);
    };
    createInterface({ input: child.stdout }).on('line', onLine);
    createInterface({ input: child.stderr }).on('line', onLine);
    child.on('error', (error: NodeJS.ErrnoException) =>
      reject(
        new ImageImportError(
          error.code === 'ENOENT'
            ? `${name} is not installed; install it with: apt-get install -y ${run.debianPackage}`
            : `could not start ${name}: ${error.message}`,
        ),
      ),
    );
    child.on('close', (code, signal) =>
      code === 0 ? resolve() : reject(new ImageImportError(`${name} failed (${signal ?? `exit code ${code}`}):\n${tail.join('\n')}`)),
    );
  });
}
