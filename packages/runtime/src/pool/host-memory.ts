import { readFileSync } from 'node:fs';

/** Memory the host keeps free of pre-started sandboxes: 10% of its memory, at least 512 MiB. */
export function hostHasMemoryForRefill(meminfo: string = readFileSync('/proc/meminfo', 'utf8')): boolean {
  const kilobytes = (field: string): number => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(meminfo)?.[1] ?? 0);
  const reserve = Math.max(512 * 1024, kilobytes('MemTotal') / 10);
  return kilobytes('MemAvailable') > reserve;
}
