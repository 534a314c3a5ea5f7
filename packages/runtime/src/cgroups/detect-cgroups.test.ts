import { describe, expect, it } from 'vitest';
import { parseCgroupMounts, parseProcessCgroups, pathBelowMount } from './detect-cgroups.js';

describe('cgroup detection', () => {
  it('reads each cgroup mount with its root and whether it is read-only, on a host and in a container sharing the host cgroup namespace', () => {
    const mountinfo = [
      '30 24 0:26 / /sys/fs/cgroup/memory ro,nosuid shared:12 - cgroup cgroup rw,memory',
      '31 24 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:13 - cgroup2 cgroup2 rw',
      '40 38 0:26 /libpod_parent/libpod-1f2e /sys/fs/cgroup/cpu,cpuacct rw,nosuid - cgroup cgroup rw,cpu,cpuacct',
      '41 38 0:28 / /proc rw - proc proc rw',
    ].join('\n');
    expect(parseCgroupMounts(mountinfo)).toEqual([
      { mountPoint: '/sys/fs/cgroup/memory', root: '/', fsType: 'cgroup', controllers: ['rw', 'memory'], readOnly: true },
      { mountPoint: '/sys/fs/cgroup/unified', root: '/', fsType: 'cgroup2', controllers: [], readOnly: false },
      { mountPoint: '/sys/fs/cgroup/cpu,cpuacct', root: '/libpod_parent/libpod-1f2e', fsType: 'cgroup', controllers: ['rw', 'cpu', 'cpuacct'], readOnly: false },
    ]);
  });

  it("places the process's cgroup below the mount's root, never twice", () => {
    const own = parseProcessCgroups('5:cpu,cpuacct:/libpod_parent/libpod-1f2e\n0::/system.slice/airlock.service\n');
    expect(own.get('cpu')).toBe('/libpod_parent/libpod-1f2e');
    expect(pathBelowMount(own.get('cpu')!, '/libpod_parent/libpod-1f2e')).toBe('/');
    expect(pathBelowMount('/libpod_parent/libpod-1f2e/init', '/libpod_parent/libpod-1f2e')).toBe('/init');
    // On a host, and in a container with its own cgroup namespace, the mount's root is / and the path stays.
    expect(pathBelowMount(own.get('')!, '/')).toBe('/system.slice/airlock.service');
    // A root that is only a prefix of a name is not the process's cgroup.
    expect(pathBelowMount('/libpod_parent/libpod-1f2e0', '/libpod_parent/libpod-1f2e')).toBe('/libpod_parent/libpod-1f2e0');
  });
});
