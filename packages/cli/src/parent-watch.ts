/**
 * Resolves when the process that started this one has gone. `npx airlock serve` runs the server under npm and a
 * shell, and npm does not pass SIGTERM on to it: when npm exits, the kernel gives the server a new parent, which is
 * what this notices. A server started by init (systemd, a container's pid 1) never sees its parent change.
 */
export function parentExited(intervalMs = 250): Promise<void> {
  const parent = process.ppid;
  return new Promise((resolve) => {
    const timer = setInterval(() => {
      if (process.ppid === parent) return;
      clearInterval(timer);
      resolve();
    }, intervalMs);
    timer.unref();
  });
}
