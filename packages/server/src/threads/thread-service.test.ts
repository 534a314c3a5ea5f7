import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { ThreadRepository } from '@airlock/db';
import { LayerCache } from '@airlock/runtime';
import { LocalBlobStore } from '@airlock/storage';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestDatabase } from '../../test-support/test-tenant.js';
import type { Principal } from '../auth/api-key-service.js';
import { silentLogger } from '../shared/logger.js';
import { ThreadService } from './thread-service.js';

// Beside its code but a system test (vitest.config.ts HOST_TESTS): layers are read with the native file system
// helpers, which `npm run build:native` makes.

let workspace: string;
let testDatabase: Awaited<ReturnType<typeof startTestDatabase>>;
let threads: ThreadService;
let principal: Principal;

/** What a sandbox leaves in its home's upper directory: the files it wrote. */
async function changes(files: Record<string, string>): Promise<string> {
  const directory = await mkdtemp(join(workspace, 'changes-'));
  for (const [path, content] of Object.entries(files)) {
    await mkdir(join(directory, path, '..'), { recursive: true });
    await writeFile(join(directory, path), content);
  }
  return directory;
}

beforeAll(async () => {
  workspace = await mkdtemp(join(tmpdir(), 'airlock-thread-service-'));
  testDatabase = await startTestDatabase();
  principal = await testDatabase.principal();
  const layerCache = new LayerCache(join(workspace, 'layers'), { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
  await layerCache.start();
  threads = new ThreadService({
    threads: new ThreadRepository(testDatabase.database),
    blobs: new LocalBlobStore(join(workspace, 'blobs')),
    layerCache,
    nodeId: 'node_test',
    logger: silentLogger,
    garbageGraceMs: 0,
  });
});

afterAll(async () => {
  await testDatabase?.close();
  await rm(workspace, { recursive: true, force: true });
});

describe('ThreadService (PGlite, a local blob store, no sandbox)', () => {
  it("saves a call's changes as a layer the next call of the thread finds, and holds one call at a time", async () => {
    const first = await threads.begin(principal, 'analysis', 'trc_first');
    expect(first.lowerDirectories).toEqual([]);
    await expect(threads.begin(principal, 'analysis', 'trc_busy')).rejects.toMatchObject({ code: 'thread_busy' });
    await first.save(await changes({ 'notes.txt': 'one\n', 'src/main.py': 'print(1)\n' }));

    const second = await threads.begin(principal, 'analysis', 'trc_second');
    expect(second.lowerDirectories).toHaveLength(1);
    expect(await readFile(join(second.lowerDirectories[0]!, 'src/main.py'), 'utf8')).toBe('print(1)\n');
    await second.save(await changes({ 'notes.txt': 'two\n' }));

    const entries = (await threads.view(principal.organization.id, 'analysis')).entries.map((entry) => entry.path);
    expect(entries).toEqual(expect.arrayContaining(['notes.txt', 'src', 'src/main.py']));
    const { content } = await threads.readFile(principal.organization.id, 'analysis', 'notes.txt');
    expect(await text(content)).toBe('two\n');
  });

  it('a call that changed nothing adds no layer, and a released call leaves the thread as it was', async () => {
    const unchanged = await threads.begin(principal, 'quiet', 'trc_quiet');
    await unchanged.save(await changes({}));
    const released = await threads.begin(principal, 'quiet', 'trc_released');
    expect(released.lowerDirectories).toEqual([]);
    await released.release();
    expect((await threads.view(principal.organization.id, 'quiet')).entries).toEqual([]);
  });

  it('forks a thread without copying, refusing a missing source and an existing target', async () => {
    await threads.fork(principal, 'analysis', 'analysis-fork');
    const { content } = await threads.readFile(principal.organization.id, 'analysis-fork', 'notes.txt');
    expect(await text(content)).toBe('two\n');
    await expect(threads.fork(principal, 'nothing-here', 'x')).rejects.toMatchObject({ code: 'not_found' });
    await expect(threads.fork(principal, 'analysis', 'analysis-fork')).rejects.toMatchObject({ code: 'conflict' });
  });
});
