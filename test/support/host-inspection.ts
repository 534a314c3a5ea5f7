import { readFileSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Processes on the host whose real uid is `uid`, as "pid command" strings. */
export function processesOfUid(uid: number): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const status = readFileSync(`/proc/${entry}/status`, 'utf8');
      const realUid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
      if (Number(realUid) === uid) {
        const field = (name: string) => new RegExp(`^${name}:\\s+(.*)$`, 'm').exec(status)?.[1] ?? '?';
        found.push(`${entry} ${field('Name')} state=${field('State')} ppid=${field('PPid')}`);
      }
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/**
 * Waits briefly for a sandbox uid's processes to be gone and returns what is left: killed processes take a moment
 * to be reaped after a response is sent. `except`: lines of processesOfUid to leave out (a fork template's).
 */
export async function noProcessesLeft(uid: number, timeoutMs = 2000, except: readonly string[] = []): Promise<string[]> {
  const deadline = Date.now() + timeoutMs;
  const excepted = new Set(except.map((line) => line.split(' ')[0]));
  const current = (): string[] => processesOfUid(uid).filter((line) => !excepted.has(line.split(' ')[0]));
  let left = current();
  while (left.length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
    left = current();
  }
  return left;
}

/** Processes on the host in the mount namespace `namespace` (as `readlink /proc/self/ns/mnt` prints it). */
export function processesInMountNamespace(namespace: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/mnt`) === namespace) found.push(entry);
    } catch {
      // exited while we looked
    }
  }
  return found;
}

/** The slot cgroups (`slot-*`) of a runtime's instance cgroup `instanceName`, in every hierarchy mounted here. */
export function cgroupSlotDirectories(instanceName: string): string[] {
  return findCgroupDirectories((path, name) => name.startsWith('slot-') && path.includes(`/${instanceName}/`));
}

/** A runtime's instance cgroup `instanceName` in every hierarchy mounted here (it holds the slots). */
export function instanceCgroupDirectories(instanceName: string): string[] {
  return findCgroupDirectories((_, name) => name === instanceName);
}

function findCgroupDirectories(matches: (path: string, name: string) => boolean): string[] {
  const found: string[] = [];
  const walk = (directory: string, depth: number): void => {
    if (depth > 4) return;
    for (const entry of readdirSync(directory, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue;
      const path = join(directory, entry.name);
      if (matches(path, entry.name)) found.push(path);
      else walk(path, depth + 1);
    }
  };
  for (const controller of ['memory', 'pids', 'freezer', 'unified']) {
    try {
      walk(`/sys/fs/cgroup/${controller}`, 0);
    } catch {
      // not mounted on this host
    }
  }
  return found;
}

/** Mount points of this process's mount namespace at or below `directory`. */
export function mountsBelow(directory: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4] ?? '')
    .filter((path) => path === directory || path.startsWith(`${directory}/`));
}

/** Processes on the host whose command line contains `text`, as "pid command line" strings. */
export function processesMentioning(text: string): string[] {
  const found: string[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const commandLine = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (commandLine.includes(text)) found.push(`${entry} ${commandLine}`);
    } catch {
      // exited while we looked
    }
  }
  return found;
}
