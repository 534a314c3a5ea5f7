import { readFile } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import * as sdk from './index.js';

const packageDirectory = resolve(dirname(fileURLToPath(import.meta.url)), '..');

/** The specifiers every module reachable from `entry` imports, by module. */
async function importsFrom(entry: string): Promise<Map<string, string[]>> {
  const found = new Map<string, string[]>();
  const pending = [entry];
  while (pending.length > 0) {
    const file = pending.pop() as string;
    if (found.has(file)) continue;
    const text = await readFile(file, 'utf8');
    const specifiers = [...text.matchAll(/(?:^|[\s;])(?:import|export)\s*(?:[^'"]*?\sfrom\s*)?['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/gm)].map(
      (match) => (match[1] ?? match[2]) as string,
    );
    found.set(file, specifiers);
    for (const specifier of specifiers) if (specifier.startsWith('.')) pending.push(join(dirname(file), specifier));
  }
  return found;
}

describe('the @airlock/sdk package', () => {
  it('exports exactly its public surface', () => {
    expect(Object.keys(sdk).sort()).toEqual([
      'Airlock',
      'AirlockAbortError',
      'AirlockApiError',
      'AirlockConfigurationError',
      'AirlockConnectionError',
      'AirlockError',
      'AirlockTimeoutError',
      'ConflictError',
      'ExecutionStream',
      'FilesApi',
      'ForbiddenError',
      'InternalServerError',
      'NotFoundError',
      'PayloadTooLargeError',
      'RateLimitedError',
      'ThreadBusyError',
      'ThreadsApi',
      'UnauthorizedError',
      'UnavailableError',
      'ValidationError',
    ]);
  });

  it('its built root entry imports nothing but its own modules: no zod, no contracts, no node: modules', async () => {
    const manifest = JSON.parse(await readFile(join(packageDirectory, 'package.json'), 'utf8')) as {
      exports: Record<string, { default: string; types: string }>;
    };
    const entry = join(packageDirectory, manifest.exports['.']?.default ?? '');
    const modules = await importsFrom(entry);
    expect(modules.size).toBeGreaterThan(5);
    for (const [file, specifiers] of modules) {
      expect(specifiers.filter((specifier) => !specifier.startsWith('./')), file).toEqual([]);
    }
    const types = await readFile(join(packageDirectory, manifest.exports['.']?.types ?? ''), 'utf8');
    expect(types).toContain('Airlock');
  });
});
