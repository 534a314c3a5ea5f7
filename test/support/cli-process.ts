import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { inject } from 'vitest';

export const CLI_PATH = fileURLToPath(new URL('../../packages/cli/dist/main.js', import.meta.url));

/** Environment for a CLI process: the test's images, nothing of the developer's AIRLOCK_* settings. */
export function cliEnvironment(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const environment: NodeJS.ProcessEnv = { PATH: process.env.PATH, HOME: process.env.HOME };
  // Sandboxes reach no network unless a test turns it on and points it at its own test hosts.
  return { ...environment, AIRLOCK_IMAGES_DIR: inject('imagesDirectory'), AIRLOCK_NETWORK: 'off', ...extra };
}

export function runCli(args: string[], options: { environment?: Record<string, string>; input?: string } = {}) {
  const result = spawnSync(process.execPath, [CLI_PATH, ...args], {
    env: cliEnvironment(options.environment),
    input: options.input,
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** `airlock serve` as its own process; resolves once it printed its URL. */
export async function startServeProcess(options: {
  dataDirectory: string;
  environment?: Record<string, string>;
}): Promise<{ child: ChildProcess; url: string; stdout: () => string; stderr: () => string }> {
  const child = spawn(process.execPath, [CLI_PATH, 'serve', '--port', '0', '--data-dir', options.dataDirectory], {
    env: cliEnvironment(options.environment),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`serve did not start:\n${stderr}`)), 60_000);
    child.stdout!.on('data', () => {
      const match = /Airlock is running at (http:\/\/\S+)/.exec(stdout);
      if (match?.[1]) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`serve exited with ${code}:\n${stderr}`));
    });
  });
  return { child, url, stdout: () => stdout, stderr: () => stderr };
}

export function waitForExit(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null || child.signalCode !== null
    ? Promise.resolve(child.exitCode)
    : new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}
