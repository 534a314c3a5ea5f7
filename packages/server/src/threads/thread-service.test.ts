import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, open, readFile, rm, writeFile } from 'node:fs/promises';
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
import { ThreadService, type ThreadLease } from './thread-service.js';

// Beside its code but a system test (vitest.config.ts HOST_TESTS): layers are read with the native file system
// helpers, which `npm run build:native` makes.

let workspace: string;
let testDatabase: Awaited<ReturnType<typeof startTestDatabase>>;
let threads: ThreadService;
let principal: Principal;
let repository: ThreadRepository;

/** What completing the execution does with its lease: releases the thread with the saved layer appended. */
async function complete(lease: ThreadLease, traceId: string, layer: string | null): Promise<void> {
  await repository.release({ ...lease.thread, traceId, layer: layer ?? undefined });
}

/** Takes the thread, saves `files` as the call's changes and completes the call. */
async function saveCall(threadService: ThreadService, threadId: string, traceId: string, files: Record<string, string>) {
  const lease = await threadService.begin(principal, threadId, traceId);
  await complete(lease, traceId, await lease.save(await changes(files)));
}

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
  repository = new ThreadRepository(testDatabase.database);
  const layerCache = new LayerCache(join(workspace, 'layers'), { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
  await layerCache.start();
  threads = new ThreadService({
    threads: repository,
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
    await complete(first, 'trc_first', await first.save(await changes({ 'notes.txt': 'one\n', 'src/main.py': 'print(1)\n' })));

    const second = await threads.begin(principal, 'analysis', 'trc_second');
    expect(second.lowerDirectories).toHaveLength(1);
    expect(await readFile(join(second.lowerDirectories[0]!, 'src/main.py'), 'utf8')).toBe('print(1)\n');
    await complete(second, 'trc_second', await second.save(await changes({ 'notes.txt': 'two\n' })));

    const entries = (await threads.view(principal.organization.id, 'analysis')).entries.map((entry) => entry.path);
    expect(entries).toEqual(expect.arrayContaining(['notes.txt', 'src', 'src/main.py']));
    const { content } = await threads.readFile(principal.organization.id, 'analysis', 'notes.txt');
    expect(await text(content)).toBe('two\n');
  });

  it('a call that changed nothing adds no layer, and a released call leaves the thread as it was', async () => {
    const unchanged = await threads.begin(principal, 'quiet', 'trc_quiet');
    expect(await unchanged.save(await changes({}))).toBeNull();
    await complete(unchanged, 'trc_quiet', null);
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

  it('a full disk at each step of a save (file blob, manifest, local layer copy) fails the save and leaves the thread at its last good state', async () => {
    // Blobs and the node's layer cache each on a small file system of their own, filled in turn.
    const blobDisk = await smallDisk('small-blobs');
    const layerDisk = await smallDisk('small-layers');
    const layerCache = new LayerCache(layerDisk, { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 });
    await layerCache.start();
    const onSmallDisks = new ThreadService({
      threads: repository,
      blobs: new LocalBlobStore(blobDisk),
      layerCache,
      nodeId: 'node_test',
      logger: silentLogger,
      garbageGraceMs: 0,
    });
    const orgId = principal.organization.id;
    const state = async () => {
      const lease = await onSmallDisks.begin(principal, 'full', `trc_read_${Math.random()}`);
      const home = Object.fromEntries(
        await Promise.all(lease.lowerDirectories.flatMap((directory) => ['state.txt'].map(async (name) => [name, await readFile(join(directory, name), 'utf8')]))),
      );
      await lease.release();
      return home;
    };
    try {
      await saveCall(onSmallDisks, 'full', 'trc_good', { 'state.txt': 'good\n' });
      expect(await state()).toEqual({ 'state.txt': 'good\n' });

      const steps: Array<{ step: string; disk: string; files: Record<string, string> }> = [
        { step: 'file blob', disk: blobDisk, files: { 'state.txt': 'new content\n' } },
        // The content is stored already, so only the manifest needs space.
        { step: 'manifest', disk: blobDisk, files: { 'copy.txt': 'good\n' } },
        { step: 'local layer copy', disk: layerDisk, files: { 'state.txt': 'other content\n' } },
      ];
      for (const { step, disk, files } of steps) {
        const filler = await fill(disk);
        try {
          const lease = await onSmallDisks.begin(principal, 'full', `trc_${step}`);
          await expect(lease.save(await changes(files)), step).rejects.toThrow(/ENOSPC|no space/i);
          await lease.release();
        } finally {
          await rm(filler);
        }
        expect((await onSmallDisks.view(orgId, 'full')).entries.map((entry) => entry.path), step).toEqual(['state.txt']);
        expect(await state(), step).toEqual({ 'state.txt': 'good\n' });
      }
      await saveCall(onSmallDisks, 'full', 'trc_after', { 'state.txt': 'after\n' });
      const { content } = await onSmallDisks.readFile(orgId, 'full', 'state.txt');
      expect(await text(content)).toBe('after\n');
    } finally {
      for (const disk of [blobDisk, layerDisk]) execFileSync('umount', [disk]);
    }
  });
});

/** A new 1 MiB tmpfs under the workspace. */
async function smallDisk(name: string): Promise<string> {
  const directory = join(workspace, name);
  await mkdir(directory);
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1m', 'tmpfs', directory]);
  return directory;
}

/** Writes a file into `directory` until its file system is full; returns the file's path. */
async function fill(directory: string): Promise<string> {
  const path = join(directory, 'filler');
  const handle = await open(path, 'w');
  try {
    for (const chunk of [64 * 1024, 4096]) {
      const bytes = Buffer.alloc(chunk, 1);
      for (;;) {
        try {
          await handle.write(bytes);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code === 'ENOSPC') break;
          throw error;
        }
      }
    }
  } finally {
    await handle.close();
  }
  return path;
}

