import { readFileSync, readdirSync } from 'node:fs';

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
