/* global console, setTimeout */
// Runs an embedded PGlite database in its own process and serves it over the PostgreSQL wire protocol on a unix
// socket. Started by src/pglite-host.ts with `fork(this file, [dataDir, socketPath])`; reports `{ ready: true }` or
// `{ error }` over IPC. Stops, closing PGlite, when the IPC channel closes (the parent called disconnect() or died)
// or after SIGTERM.
import { rmdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import process from 'node:process';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

/** A stop that takes longer than this (a wedged PGlite) ends the process anyway. */
const STOP_TIMEOUT_MS = 10_000;
/** How long a SIGTERM waits for the parent to let go of the database before stopping it. */
const SIGTERM_GRACE_MS = 10_000;

const [dataDir, socketPath] = process.argv.slice(2);
if (dataDir === undefined || socketPath === undefined) {
  console.error('usage: pglite-host.mjs DATA_DIR SOCKET_PATH');
  process.exit(2);
}
let pglite;
let server;
let stopping = false;

async function stop() {
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
  await rmdir(dirname(socketPath)).catch(() => undefined);
  process.exit();
}

/** Sends a message to the parent and waits until it is written (or the channel turns out to be closed). */
function report(message) {
  return new Promise((resolve) => (process.send === undefined ? resolve() : process.send(message, () => resolve())));
}

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
  pglite = await PGlite.create(dataDir);
  // Two connections, so a replacement connection is accepted while a discarded one is still being detached; the
  // parent's pool holds one.
  server = new PGLiteSocketServer({ db: pglite, path: socketPath, maxConnections: 2 });
  await server.start();
  if (!stopping) await report({ ready: true });
} catch (error) {
  console.error(error);
  await report({ error: error instanceof Error ? error.message : String(error) });
  await stop();
}
