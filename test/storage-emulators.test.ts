import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rcloneRemote, rcloneRemotePath, type StorageConnection, type StorageProvider } from '../packages/storage/src/index.js';
import {
  AZURITE_ACCOUNT,
  AZURITE_KEY,
  TEST_RCLONE,
  runRclone,
  startStorageEmulator,
  type StorageEmulator,
} from './support/storage-emulators.js';
import { until } from './support/wait.js';

/*
 * The pinned rclone against the three emulators, with the remotes rcloneRemote() makes (environment variables only,
 * RCLONE_CONFIG=/dev/null). What each emulator needs:
 * - S3, `rclone serve s3`: provider Other, endpoint http://127.0.0.1:<port>, force_path_style true, any region.
 * - GCS, fake-gcs-server: the gcs backend with endpoint http://127.0.0.1:<port>/storage/v1/ (the JSON API's path is
 *   needed for listings; uploads drop it and use /upload/storage/v1/) and anonymous true; its buckets are made through
 *   its API (rclone's mkdir needs a project number).
 * - Azure, Azurite: account devstoreaccount1 and its published key, endpoint http://127.0.0.1:<port>/devstoreaccount1
 *   (use_emulator would mean the fixed port 10000); a connection string with that BlobEndpoint or a container SAS URL
 *   work too.
 * GCS with an HMAC key (rclone's s3 backend, provider GCS) is not tried: fake-gcs-server has no S3-compatible XML API
 * for uploads and listings (a PUT of /<bucket>/<key> answers 400 "invalid uploadType").
 * The mount: `rclone mount <remote>:<bucket>/<prefix> <dir> --vfs-cache-mode writes --vfs-write-back <delay>
 * --cache-dir <dir> --rc --rc-addr unix://<socket> --rc-no-auth`, the remote control over HTTP on the socket
 * (vfs/queue, vfs/queue-set-expiry), `fusermount -u <dir>` to unmount. Here a file waits an hour for its upload, so
 * it is seen in the queue before it is hurried. docs/decisions/0023-rclone-and-storage-emulators.md
 */

const PROVIDERS: StorageProvider[] = ['s3', 'gcs', 'azure'];
/** Parts smaller than the defaults, so that a 12 MiB file is uploaded in several (GCS's client has no such option). */
const PART_FLAGS: Record<StorageProvider, string[]> = {
  s3: ['--s3-upload-cutoff', '5M', '--s3-chunk-size', '5M'],
  gcs: [],
  azure: ['--azureblob-upload-cutoff', '4M', '--azureblob-chunk-size', '4M'],
};

describe.each(PROVIDERS)('%s emulator and the pinned rclone', (provider) => {
  let emulator: StorageEmulator;
  let workspace: string;

  beforeAll(async () => {
    workspace = await mkdtemp(join(tmpdir(), `airlock-rclone-${provider}-`));
    emulator = await startStorageEmulator(provider);
  });

  afterAll(async () => {
    await emulator?.remove();
    await rm(workspace, { recursive: true, force: true });
  });

  it('copies a file in, lists it and reads it back', async () => {
    const local = join(workspace, 'report.csv');
    await writeFile(local, 'id,total\n1,42\n');
    const { remote } = emulator;
    await runRclone(remote, ['copyto', local, rcloneRemotePath(remote, 'copied/report.csv')]);
    expect((await runRclone(remote, ['lsf', '--recursive', '--files-only', rcloneRemotePath(remote)])).toString()).toBe('copied/report.csv\n');
    expect((await runRclone(remote, ['cat', rcloneRemotePath(remote, 'copied/report.csv')])).toString()).toBe('id,total\n1,42\n');
    expect((await emulator.get('copied/report.csv'))?.toString()).toBe('id,total\n1,42\n');
    expect(await emulator.get('copied/missing.csv')).toBeNull();
  });

  it('a 12 MiB file is uploaded in parts (S3 multipart, Azure blocks; GCS resumable) and comes back whole', async () => {
    const content = Buffer.alloc(12 << 20, provider);
    const local = join(workspace, 'large.bin');
    await writeFile(local, content);
    const { remote } = emulator;
    await runRclone(remote, ['copyto', ...PART_FLAGS[provider], local, rcloneRemotePath(remote, 'large.bin')]);
    expect((await emulator.get('large.bin'))?.equals(content)).toBe(true);
  });

  it('a mount: objects read through it; a file written through it is uploaded from the queue (vfs/queue); fusermount -u unmounts it', async () => {
    await emulator.put('mounted/customers.csv', 'id,name\n1,Ada\n');
    const mount = await startMount(emulator, workspace, 'mounted');
    try {
      expect(readFileSync(join(mount.directory, 'customers.csv'), 'utf8')).toBe('id,name\n1,Ada\n');

      await writeFile(join(mount.directory, 'summary.csv'), 'rows,1\n');
      let queue: QueueItem[] = [];
      expect(await until(async () => (queue = await mount.queue()).length > 0, 5_000)).toBe(true);
      expect(queue).toEqual([expect.objectContaining({ name: 'summary.csv', size: 7, uploading: false, tries: 0 })]);
      expect(await emulator.get('mounted/summary.csv')).toBeNull();

      await mount.control('vfs/queue-set-expiry', { id: queue[0]!.id, expiry: 0 });
      expect(await until(async () => (await mount.queue()).length === 0, 10_000)).toBe(true);
      expect((await emulator.get('mounted/summary.csv'))?.toString()).toBe('rows,1\n');
    } finally {
      await mount.unmount();
    }
    expect(mountedAt(mount.directory)).toBe(false);
    expect(existsSync(mount.socket)).toBe(false);
  });

  it('stopped, it refuses rclone; started again, it serves the same objects', async () => {
    await emulator.put('outage/kept.txt', 'kept\n');
    await emulator.stop();
    const { remote } = emulator;
    const failing = ['lsf', '--retries', '1', '--low-level-retries', '1', '--contimeout', '2s', rcloneRemotePath(remote, 'outage')];
    await expect(runRclone(remote, failing)).rejects.toThrow(/exited with [1-9]/);
    await emulator.start();
    expect((await emulator.get('outage/kept.txt'))?.toString()).toBe('kept\n');
  });
});

describe('Azure\'s other credentials against Azurite', () => {
  let azure: StorageEmulator;

  beforeAll(async () => {
    azure = await startStorageEmulator('azure');
  });

  afterAll(async () => {
    await azure?.remove();
  });

  /** Writes, lists and reads an object through a remote of `connection`, and finds it in the emulator. */
  async function roundTrip(connection: StorageConnection, key: string): Promise<void> {
    const remote = rcloneRemote('other_credentials', connection);
    await runRclone(remote, ['rcat', rcloneRemotePath(remote, key)], Buffer.from(`${key}\n`));
    expect((await runRclone(remote, ['lsf', rcloneRemotePath(remote, key.split('/')[0])])).toString()).toContain(key.split('/')[1]);
    expect((await runRclone(remote, ['cat', rcloneRemotePath(remote, key)])).toString()).toBe(`${key}\n`);
    expect((await azure.get(key))?.toString()).toBe(`${key}\n`);
  }

  it('a connection string naming the emulator as its blob endpoint', async () => {
    const connectionString =
      `DefaultEndpointsProtocol=http;AccountName=${AZURITE_ACCOUNT};AccountKey=${AZURITE_KEY};` +
      `BlobEndpoint=${azure.url}/${AZURITE_ACCOUNT};`;
    await roundTrip({ provider: 'azure', container: 'airlock-test', connection_string: connectionString }, 'connection-string/a.txt');
  });

  it('a container SAS URL', async () => {
    const sasUrl = `${azure.url}/${AZURITE_ACCOUNT}/airlock-test?${containerSas('airlock-test')}`;
    await roundTrip({ provider: 'azure', container: 'airlock-test', sas_url: sasUrl }, 'sas/a.txt');
  });
});

/** A service SAS for a container (version 2020-02-10), read, add, create, write, delete and list, for an hour. */
function containerSas(container: string): string {
  const version = '2020-02-10';
  const permissions = 'racwdl';
  const expiry = new Date(Date.now() + 3_600_000).toISOString().replace(/\.\d+Z$/, 'Z');
  const resource = `/blob/${AZURITE_ACCOUNT}/${container}`;
  const toSign = [permissions, '', expiry, resource, '', '', '', version, 'c', '', '', '', '', '', ''].join('\n');
  const signature = createHmac('sha256', Buffer.from(AZURITE_KEY, 'base64')).update(toSign, 'utf8').digest('base64');
  return new URLSearchParams({ sv: version, sr: 'c', sp: permissions, se: expiry, sig: signature }).toString();
}


interface QueueItem {
  id: number;
  name: string;
  size: number;
  expiry: number;
  tries: number;
  uploading: boolean;
}

interface Mount {
  directory: string;
  socket: string;
  control(command: string, parameters?: object): Promise<unknown>;
  queue(): Promise<QueueItem[]>;
  /** fusermount -u, then waits for rclone to exit. */
  unmount(): Promise<void>;
}

/** `rclone mount` of the emulator's bucket below `prefix`, with its remote control on a Unix socket. */
async function startMount(emulator: StorageEmulator, workspace: string, prefix: string): Promise<Mount> {
  const directory = join(workspace, 'mount');
  const socket = join(workspace, 'rc.sock');
  await mkdir(directory);
  const child: ChildProcess = spawn(
    TEST_RCLONE,
    [
      'mount', rcloneRemotePath(emulator.remote, prefix), directory,
      '--vfs-cache-mode', 'writes', '--vfs-write-back', '1h', '--cache-dir', join(workspace, 'cache'),
      '--rc', '--rc-addr', `unix://${socket}`, '--rc-no-auth',
    ],
    { env: { PATH: process.env.PATH, ...emulator.remote.environment }, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const mounted = await until(() => mountedAt(directory) || child.exitCode !== null, 10_000);
  if (!mounted || child.exitCode !== null) {
    child.kill('SIGKILL');
    throw new Error(`rclone mount did not come up: ${log}`);
  }
  const control = (command: string, parameters: object = {}) => remoteControl(socket, command, parameters);
  return {
    directory,
    socket,
    control,
    queue: async () => ((await control('vfs/queue')) as { queue: QueueItem[] }).queue,
    async unmount() {
      const unmounted = spawnSync('fusermount', ['-u', directory], { encoding: 'utf8' });
      if (unmounted.status !== 0) child.kill('SIGKILL');
      await exited;
      expect(unmounted.status, unmounted.stderr).toBe(0);
      await rm(directory, { recursive: true, force: true });
    },
  };
}

function mountedAt(directory: string): boolean {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .some((line) => line.split(' ')[4] === directory);
}

/** An rclone remote-control command: a POST of JSON parameters to /<command> on the socket. */
function remoteControl(socket: string, command: string, parameters: object): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(parameters);
    const call = request(
      { socketPath: socket, path: `/${command}`, method: 'POST', headers: { 'content-type': 'application/json' } },
      (response) => {
        let text = '';
        response.on('data', (chunk: Buffer) => (text += chunk.toString()));
        response.on('end', () => {
          if (response.statusCode === 200) resolve(JSON.parse(text));
          else reject(new Error(`${command}: ${response.statusCode} ${text}`));
        });
      },
    );
    call.on('error', reject);
    call.end(body);
  });
}
