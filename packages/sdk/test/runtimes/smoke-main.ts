/**
 * The smoke run as a program, for Deno, Bun and Node: loads the built SDK (the package's `default` export) and prints
 * the report as JSON. The first argument names the runtime; the key and URL come from the environment.
 */
import * as sdk from '../../dist/index.js';
import { runSmoke } from './smoke.ts';

const runtime = (globalThis as { Deno?: { args: string[] } }).Deno?.args[0] ?? process.argv[2] ?? 'unknown';
// The built module's types are the source's, declared twice: their classes' private fields make them distinct types.
console.log(JSON.stringify(await runSmoke(sdk as unknown as Parameters<typeof runSmoke>[0], runtime)));
