import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm, statfs } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAirlock, type AirlockFixture } from './support/airlock-fixture.js';
import { startPostgres, type PostgresServer } from './support/postgres-server.js';
import { startWebhookReceiver, type WebhookReceiver } from './support/webhook-receiver.js';

// The data directory is a 48 MiB file system of its own (the database is PostgreSQL, elsewhere), so a call that
// writes more than that fills it while its changes are saved.
let postgres: PostgresServer;
let dataDirectory: string;
let airlock: AirlockFixture;
let receiver: WebhookReceiver;

beforeAll(async () => {
  postgres = await startPostgres();
  dataDirectory = await mkdtemp(join(tmpdir(), 'airlock-full-disk-'));
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=48m,mode=0755', 'tmpfs', dataDirectory]);
  airlock = await startAirlock({
    dataDirectory,
    keepDataDirectory: true,
    environment: { DATABASE_URL: postgres.url, AIRLOCK_WEBHOOK_ALLOW_LOOPBACK: 'true' },
  });
  receiver = await startWebhookReceiver();
}, 180_000);

afterAll(async () => {
  await airlock?.close();
  await receiver?.close();
  if (dataDirectory) {
    execFileSync('umount', [dataDirectory]);
    await rm(dataDirectory, { recursive: true, force: true });
  }
  await postgres?.stop();
});

const usedBytes = async () => {
  const stats = await statfs(dataDirectory);
  return (stats.blocks - stats.bfree) * stats.bsize;
};

const overflowing = { language: 'bash', thread_id: 'full', code: 'echo after > state.txt; head -c 64M /dev/zero | tr "\\0" x > big.bin; echo ran' };
const notSaved = { success: false, status: 'failed', exit_code: 0, stdout: 'ran\n', error: 'thread_save_error' };

describe('a full disk while a thread is saved', () => {
  it('every channel answers that the home was not saved; the thread stays at its last good state, free and usable', async () => {
    expect(await airlock.execute({ language: 'bash', thread_id: 'full', code: 'echo before > state.txt' })).toMatchObject({ status: 'success' });

    const inline = await airlock.execute(overflowing);
    expect(inline).toMatchObject(notSaved);
    expect(inline.error_message).toMatch(/could not be saved \(no space left on the storage\); the thread is unchanged/);

    const streamed = await airlock.request('/v1/sandbox/execute', {
      method: 'POST',
      json: overflowing,
      headers: { accept: 'application/x-ndjson' },
    });
    const events = String(streamed.body).trim().split('\n').map((line) => JSON.parse(line));
    expect(events.at(-1)).toMatchObject({ type: 'result', status: 'failed', result: notSaved });

    const accepted = await airlock.request<{ trace_id: string }>('/v1/sandbox/execute', {
      method: 'POST',
      json: { ...overflowing, webhook_url: receiver.url },
      headers: { prefer: 'respond-async' },
    });
    expect(accepted.status).toBe(202);
    const [webhook] = await receiver.waitFor(1, 60_000);
    expect(JSON.parse(webhook!.body)).toMatchObject({ ...notSaved, trace_id: accepted.body.trace_id });

    for (const traceId of [inline.trace_id, accepted.body.trace_id]) {
      const record = await airlock.request(`/v1/executions/${traceId}`);
      expect(record.body).toMatchObject({ status: 'failed', exit_code: 0, error: 'thread_save_error' });
    }

    expect(await airlock.execute({ language: 'bash', thread_id: 'full', code: 'cat state.txt; ls' })).toMatchObject({
      status: 'success',
      stdout: 'before\nstate.txt\n',
    });
    expect(await readdir(join(dataDirectory, 'blobs', 'incoming'))).toEqual([]);
  }, 180_000);

  it('a saved byte is stored once on the node: the cached layer shares the blob store file', async () => {
    const before = await usedBytes();
    const saved = await airlock.execute({ language: 'bash', thread_id: 'once', code: 'head -c 8M /dev/urandom > data.bin' });
    expect(saved.status).toBe('success');
    const added = (await usedBytes()) - before;
    expect(added).toBeGreaterThan(8 << 20);
    expect(added).toBeLessThan(12 << 20);
    expect(await airlock.execute({ language: 'bash', thread_id: 'once', code: 'stat -c %s data.bin' })).toMatchObject({ stdout: `${8 << 20}\n` });
  }, 60_000);
});
