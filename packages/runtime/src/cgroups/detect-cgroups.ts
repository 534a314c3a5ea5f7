import { promises as fs } from 'node:fs';
import type { CgroupHierarchy } from './cgroup-types.js';
import { CgroupV1Hierarchy, V1_CONTROLLERS, type V1Controller } from './cgroup-v1.js';
import { CgroupV2Hierarchy } from './cgroup-v2.js';

export interface CgroupMount {
  mountPoint: string;
  /** The cgroup the mount shows at its mount point: `/` on a host, the container's own cgroup in a container that shares the host's cgroup namespace. */
  root: string;
  fsType: 'cgroup' | 'cgroup2';
  /** For v1: the controllers bound to this hierarchy. */
  controllers: string[];
  /** Mounted read-only (a container's default without privileges): no cgroup can be made below it. */
  readOnly: boolean;
}

/** Parses /proc/self/mountinfo lines for cgroup file systems. */
export function parseCgroupMounts(mountinfo: string): CgroupMount[] {
  const mounts: CgroupMount[] = [];
  for (const line of mountinfo.split('\n')) {
    const [before, after] = line.split(' - ');
    if (!before || !after) continue;
    const [fsType, , superOptions = ''] = after.split(' ');
    if (fsType !== 'cgroup' && fsType !== 'cgroup2') continue;
    const [, , , root, mountPoint, options = ''] = before.split(' ');
    if (!mountPoint || !root) continue;
    mounts.push({
      mountPoint: mountPoint.replace(/\\040/g, ' '),
      root: root.replace(/\\040/g, ' '),
      fsType,
      controllers: fsType === 'cgroup' ? superOptions.split(',') : [],
      readOnly: options.split(',').includes('ro'),
    });
  }
  return mounts;
}

/** Parses /proc/self/cgroup into controller -> path (v2's unified entry is keyed by the empty string). */
export function parseProcessCgroups(text: string): Map<string, string> {
  const paths = new Map<string, string>();
  for (const line of text.split('\n')) {
    const match = /^\d+:([^:]*):(.*)$/.exec(line);
    if (!match) continue;
    const [, controllers = '', path = '/'] = match;
    if (controllers === '') paths.set('', path);
    for (const controller of controllers.split(',')) if (controller) paths.set(controller, path);
  }
  return paths;
}

/**
 * A process's cgroup path (as /proc/self/cgroup gives it, from the root of its cgroup namespace) below a mount of that
 * hierarchy: a container sharing the host's cgroup namespace sees its own cgroup mounted at the mount point, so the
 * part of the path the mount's root already covers is dropped.
 */
export function pathBelowMount(path: string, root: string): string {
  if (root === '/' || !(path === root || path.startsWith(`${root}/`))) return path;
  return path.slice(root.length) || '/';
}

/**
 * Chooses the hierarchy the sandboxes' limits live in: v1 when the v1 controllers are mounted (hybrid hosts such as
 * this project's CI), otherwise the unified v2 hierarchy with the memory controller available.
 */
export async function detectCgroupHierarchy(options: { name: string }): Promise<CgroupHierarchy> {
  const mounts = parseCgroupMounts(await fs.readFile('/proc/self/mountinfo', 'utf8'));
  const ownPaths = parseProcessCgroups(await fs.readFile('/proc/self/cgroup', 'utf8'));
  const v1Mounts = {} as Record<V1Controller, string>;
  const v1OwnPaths = {} as Record<V1Controller, string>;
  for (const controller of V1_CONTROLLERS) {
    const mount = mounts.find((candidate) => candidate.fsType === 'cgroup' && candidate.controllers.includes(controller));
    if (!mount) break;
    v1Mounts[controller] = mount.mountPoint;
    v1OwnPaths[controller] = pathBelowMount(ownPaths.get(controller) ?? '/', mount.root);
  }
  if (Object.keys(v1Mounts).length === V1_CONTROLLERS.length) {
    return new CgroupV1Hierarchy({ mounts: v1Mounts, ownPaths: v1OwnPaths, name: options.name });
  }
  const unified = mounts.find((candidate) => candidate.fsType === 'cgroup2');
  if (unified) {
    const available = await fs.readFile(`${unified.mountPoint}/cgroup.controllers`, 'utf8').catch(() => '');
    if (['cpu', 'memory', 'pids'].every((controller) => available.split(/\s+/).includes(controller))) {
      return new CgroupV2Hierarchy({ mount: unified.mountPoint, ownPath: pathBelowMount(ownPaths.get('') ?? '/', unified.root), name: options.name });
    }
  }
  throw new Error(
    'no usable cgroup hierarchy: need cgroup v1 with cpu, cpuacct, memory, pids and freezer mounted, ' +
      'or cgroup v2 with the cpu, memory and pids controllers available (run as root or in a privileged container)',
  );
}
