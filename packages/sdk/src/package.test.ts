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
    // Without block comments: a doc comment's example imports nothing.
    const text = (await readFile(file, 'utf8')).replace(/\/\*[\s\S]*?\*\//g, '');
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
      'IdempotencyKeyReusedError',
      'InternalServerError',
      'MethodNotAllowedError',
      'NotFoundError',
      'PayloadTooLargeError',
      'RateLimitedError',
      'RequestTimeoutError',
      'ThreadBusyError',
      'ThreadsApi',
      'UnauthorizedError',
      'UnavailableError',
      'UnsupportedMediaTypeError',
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

  it('its tool subpaths import only their framework and zod, and each exports the tool, its factory and its name', async () => {
    const manifest = JSON.parse(await readFile(join(packageDirectory, 'package.json'), 'utf8')) as {
      exports: Record<string, { default: string; 'airlock-source': string }>;
      peerDependencies: Record<string, string>;
    };
    const frameworks: Record<string, string[]> = {
      './ai': ['ai'],
      './anthropic': ['@anthropic-ai/sdk/helpers/beta/zod'],
      './openai': ['@openai/agents'],
      './langchain': ['@langchain/core/tools'],
      './google': [],
      './mastra': ['@mastra/core/tools'],
    };
    expect(Object.keys(manifest.exports).filter((key) => key !== '.').sort()).toEqual(Object.keys(frameworks).sort());
    for (const [subpath, framework] of Object.entries(frameworks)) {
      const entry = manifest.exports[subpath];
      const modules = await importsFrom(join(packageDirectory, entry?.default ?? ''));
      const bare = [...modules.values()].flat().filter((specifier) => !specifier.startsWith('.'));
      expect([...new Set(bare)].sort(), subpath).toEqual([...framework, 'zod'].sort());
      for (const specifier of bare) expect(Object.keys(manifest.peerDependencies)).toContain(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]);
      const tools = (await import(join(packageDirectory, entry?.['airlock-source'] ?? ''))) as Record<string, unknown>;
      expect(Object.keys(tools).sort(), subpath).toEqual(['CODE_SANDBOX_TOOL_NAME', 'codeSandbox', 'createCodeSandboxTool']);
    }
  });
});
