/* global console, setTimeout */
// Runs an embedded PGlite database in its own process. Started by src/pglite-host.ts with `fork(this file, args)`:
//
// - `initialize DATA_DIR` creates a new data directory (initdb) and exits 0, or prints the error and exits 1; it
//   stops when the IPC channel closes. The process that serves the directory is a separate one: initdb leaves
//   hundreds of MiB in this process's memory (a second PGlite instance, initdb's own WASM instance, a tar image of
//   the new directory) that a process does not hand back to the system.
// - `serve DATA_DIR SOCKET_PATH` opens an existing data directory and serves it over the PostgreSQL wire protocol on
//   a unix socket; reports `{ ready: true }` or `{ error }` over IPC. Stops, closing PGlite, when the IPC channel
//   closes (the parent called disconnect() or died) or after SIGTERM.
import { rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import process from 'node:process';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** A stop that takes longer than this (a wedged PGlite) ends the process anyway. */
const STOP_TIMEOUT_MS = 10_000;
/** How long a SIGTERM waits for the parent to let go of the database before stopping it. */
const SIGTERM_GRACE_MS = 10_000;

/**
 * PostgreSQL's shared memory lives in PGlite's WASM linear memory, resident from the start and never given back:
 * the default 128 MB buffer pool alone costs about 110 MiB of RSS. Airlock's rows are small and few; pages outside
 * the pool are read from the data files, which the operating system caches.
 */
const SHARED_BUFFERS = '16MB';
const PGLITE_OPTIONS = { startParams: [...PGlite.defaultStartParams, '-c', `shared_buffers=${SHARED_BUFFERS}`] };

const USAGE = 'usage: pglite-host.mjs initialize DATA_DIR | pglite-host.mjs serve DATA_DIR SOCKET_PATH';

const [command, dataDir, socketPath] = process.argv.slice(2);
if (command === 'initialize' && dataDir !== undefined) await initialize(dataDir);
else if (command === 'serve' && dataDir !== undefined && socketPath !== undefined) await serve(dataDir, socketPath);
else {
  console.error(USAGE);
  process.exit(2);
}

/**
 * Signals leave initdb to the parent, as they leave the serving process (see serve). A parent that is gone no longer
 * holds the data directory's lock, so initdb stops with it rather than write beside whatever opens the directory next.
 */
async function initialize(directory) {
  process.on('disconnect', () => process.exit(1));
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => undefined);
  try {
    const pglite = await PGlite.create(directory, PGLITE_OPTIONS);
    await pglite.close();
  } catch (error) {
    console.error(error);
    process.exit(1);
  }
  process.exit(0);
}

/** Sends a message to the parent and waits until it is written (or the channel turns out to be closed). */
function report(message) {
  return new Promise((resolve) => (process.send === undefined ? resolve() : process.send(message, () => resolve())));
}

async function serve(directory, socket) {
  let pglite;
  let server;
  let stopping = false;

  const stop = async () => {
    if (stopping) return;
    stopping = true;
    setTimeout(() => process.exit(1), STOP_TIMEOUT_MS).unref();
    try {
      await server?.stop();
      if (pglite !== undefined && !pglite.closed) await pglite.close();
    } catch (error) {
      console.error('closing the embedded database failed:', error);
      process.exitCode = 1;
    }
    await rmdir(dirname(socket)).catch(() => undefined);
    process.exit();
  };

  process.on('disconnect', stop);
  // Ctrl-C reaches the whole process group, and `systemctl stop` signals every process of the service, while the
  // parent may still write during its own graceful shutdown: the parent decides when the database stops. A SIGTERM
  // stops it once the parent has let go, or after a grace period.
  process.on('SIGINT', () => undefined);
  process.on('SIGTERM', () => {
    if (process.connected) setTimeout(stop, SIGTERM_GRACE_MS).unref();
    else stop();
  });

  try {
    pglite = await PGlite.create(directory, PGLITE_OPTIONS);
    // Two connections, so a replacement connection is accepted while a discarded one is still being detached; the
    // parent's pool holds one.
    server = new PGLiteSocketServer({ db: pglite, path: socket, maxConnections: 2 });
    await server.start();
    if (!stopping) await report({ ready: true });
  } catch (error) {
    console.error(error);
    await report({ error: error instanceof Error ? error.message : String(error) });
    await stop();
  }
}
