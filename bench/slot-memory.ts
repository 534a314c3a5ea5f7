import { readdirSync, readFileSync } from 'node:fs';
import type { Language } from '@airlock/contracts';

/** Memory of one idle warm slot, in KiB of PSS (proportional set size), by the role of its processes. */
export interface SlotMemory {
  language: Language;
  /** The interpreter running the stub, blocked reading its code. */
  interpreterKiB: number;
  /** bubblewrap's monitor and the sandbox's pid 1, both bubblewrap. */
  bubblewrapKiB: number;
  /** This slot's share of airlock-spawner, the server's one root child that starts and reaps every sandbox. */
  spawnerShareKiB: number;
  /**
   * The anonymous part of the slot's PSS (heap, stacks, written data): what one more slot adds. The rest is file
   * pages (the image's interpreter and libraries, bubblewrap), shared by every slot that maps them.
   */
  anonymousKiB: number;
}

const SPAWNER_COMMAND = 'airlock-spawner';
const BUBBLEWRAP_COMMAND = 'bwrap';

interface ProcessEntry {
  pid: number;
  parentPid: number;
  /** The kernel's command name (`comm`): the executable's file name, at most 15 characters. */
  command: string;
}

/** Reads a /proc file of a process, or undefined when the process has exited meanwhile. */
function readProcFile(pid: number, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return undefined;
    throw error;
  }
}

function listProcesses(): ProcessEntry[] {
  const entries: ProcessEntry[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readProcFile(Number(name), 'stat');
    if (stat === undefined) continue;
    // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so split after the last ')'.
    const commandEnd = stat.lastIndexOf(')');
    const fields = stat.slice(commandEnd + 2).split(' ');
    entries.push({ pid: Number(name), parentPid: Number(fields[1]), command: stat.slice(stat.indexOf('(') + 1, commandEnd) });
  }
  return entries;
}

function kilobytes(text: string, field: string): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(text);
  if (!match) {
    throw new Error(`no ${field} line in /proc/<pid>/smaps_rollup: this kernel does not report it, so slot memory cannot be measured`);
  }
  return Number(match[1]);
}

function realUid(pid: number): number | undefined {
  const status = readProcFile(pid, 'status');
  const match = status === undefined ? null : /^Uid:\s+(\d+)/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

/**
 * The idle slots of the server running in `serverPid`: each is a bubblewrap child of the server's `airlock-spawner`,
 * with the sandbox's pid 1 (also bubblewrap) and an interpreter below it, those three running as `sandboxUid`. Call it while no
 * execution runs and the pool starts nothing, so every such tree is a ready slot; trees that are incomplete (being
 * torn down) or whose interpreter is not one of `interpreters` are skipped.
 */
export function readIdleSlots(options: {
  serverPid: number;
  sandboxUid: number;
  /** Interpreter path per language, as in the image manifest. */
  interpreters: Partial<Record<Language, string>>;
}): SlotMemory[] {
  const processes = listProcesses();
  const children = new Map<number, ProcessEntry[]>();
  for (const entry of processes) children.set(entry.parentPid, [...(children.get(entry.parentPid) ?? []), entry]);
  // By the interpreter's argv[0], the path the stub was started with: the command name may be a thread's (node's is
  // MainThread).
  const languageOf = new Map(Object.entries(options.interpreters).map(([language, path]) => [path, language as Language]));
  const argv0 = (pid: number): string | undefined => readProcFile(pid, 'cmdline')?.split('\0')[0];
  const descendants = (pid: number): ProcessEntry[] =>
    (children.get(pid) ?? []).flatMap((child) => [child, ...descendants(child.pid)]);

  const spawner = (children.get(options.serverPid) ?? []).find((entry) => entry.command === SPAWNER_COMMAND);
  const spawnerRollup = spawner && readProcFile(spawner.pid, 'smaps_rollup');
  if (!spawner || spawnerRollup === undefined) return [];
  const sandboxes = (children.get(spawner.pid) ?? []).filter((entry) => entry.command === BUBBLEWRAP_COMMAND);
  const spawnerShare = (field: string): number => kilobytes(spawnerRollup, field) / Math.max(1, sandboxes.length);

  const slots: SlotMemory[] = [];
  for (const monitor of sandboxes) {
    const sandbox = [monitor, ...descendants(monitor.pid)];
    const bubblewrap = sandbox.filter((entry) => entry.command === BUBBLEWRAP_COMMAND);
    const interpreters = sandbox.filter((entry) => entry.command !== BUBBLEWRAP_COMMAND);
    const argument0 = interpreters.length === 1 ? argv0(interpreters[0]!.pid) : undefined;
    const language = argument0 === undefined ? undefined : languageOf.get(argument0);
    if (language === undefined || bubblewrap.length !== 2) continue;
    if (sandbox.some((entry) => realUid(entry.pid) !== options.sandboxUid)) continue;
    const rollups = new Map<number, string>();
    for (const entry of sandbox) {
      const rollup = readProcFile(entry.pid, 'smaps_rollup');
      if (rollup !== undefined) rollups.set(entry.pid, rollup);
    }
    if (rollups.size !== sandbox.length) continue;
    const sum = (entries: ProcessEntry[], field: string): number =>
      entries.reduce((total, entry) => total + kilobytes(rollups.get(entry.pid)!, field), 0);
    slots.push({
      language,
      interpreterKiB: sum(interpreters, 'Pss'),
      bubblewrapKiB: sum(bubblewrap, 'Pss'),
      spawnerShareKiB: spawnerShare('Pss'),
      anonymousKiB: sum(sandbox, 'Pss_Anon') + spawnerShare('Pss_Anon'),
    });
  }
  return slots;
}

/** Mean memory of a language's idle slots. */
export interface SlotMemorySummary {
  slots: number;
  /** PSS of the slot's processes together. */
  totalKiB: number;
  interpreterKiB: number;
  bubblewrapKiB: number;
  spawnerShareKiB: number;
  anonymousKiB: number;
}

export function summarizeSlots(slots: SlotMemory[], language: Language): SlotMemorySummary | undefined {
  const mine = slots.filter((slot) => slot.language === language);
  if (mine.length === 0) return undefined;
  const mean = (part: (slot: SlotMemory) => number): number => mine.reduce((sum, slot) => sum + part(slot), 0) / mine.length;
  return {
    slots: mine.length,
    totalKiB: mean((slot) => slot.interpreterKiB + slot.bubblewrapKiB + slot.spawnerShareKiB),
    interpreterKiB: mean((slot) => slot.interpreterKiB),
    bubblewrapKiB: mean((slot) => slot.bubblewrapKiB),
    spawnerShareKiB: mean((slot) => slot.spawnerShareKiB),
    anonymousKiB: mean((slot) => slot.anonymousKiB),
  };
}
