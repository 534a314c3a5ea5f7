# Airlock's python fork template (docs/decisions/0033-fork-tier.md), appended to python-stub.py's functions and
# started with `python3 -c` in a sandbox of its own that keeps CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_NET_ADMIN,
# CAP_SETPCAP and CAP_SYS_RESOURCE in its user namespace. It never runs user code. Processes:
# - the template imports the preloaded modules, then forks one interpreter per execution;
# - the namespace maker, forked before the imports (small, so its forks are cheap), makes each execution's pid 1 in
#   new pid, mount, UTS, IPC and network namespaces; that pid 1 builds the execution's own root (/tmp, /dev/shm, /run,
#   /proc, /dev/pts, home and /data), brings loopback up, drops every capability, applies seccomp, then execs the
#   image's sleep, which holds the namespaces while the kernel reaps orphans;
# - the execution's interpreter, a fork of the template, joins those namespaces as pid 2, waits until the server has
#   moved it into the execution's cgroup, drops every capability, sets no_new_privs, applies seccomp and runs the stub;
#   at its end it reports its exit code on the stub's events pipe, then exits.
# Control: fd 3 carries the server's requests, one per line (a fork, or K to kill one); fd 4 the template's reports,
# one per line (R ready, F forked, E failed, X exited); fd 5 the seccomp program. Paths in requests are relative to
# the views of the server's pipes and mounts.
import ctypes
import fcntl
import os
import re
import signal
import socket
import struct
import sys

_PIPES = "/run/airlock-fork/pipes"
_MOUNTS = "/run/airlock-fork/mounts"
_RUN_BYTES = 4 * 1024 * 1024

_MS_RDONLY, _MS_NOSUID, _MS_NODEV, _MS_NOEXEC = 1, 2, 4, 8
_MS_REMOUNT, _MS_BIND, _MS_MOVE, _MS_REC, _MS_SLAVE = 32, 4096, 8192, 16384, 1 << 19
_MNT_DETACH = 2
_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_SECCOMP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT = 1, 24, 22, 38, 47
_SECCOMP_MODE_FILTER, _PR_CAP_AMBIENT_CLEAR_ALL, _PR_SET_CHILD_SUBREAPER = 2, 4, 36

_libc = ctypes.CDLL(None, use_errno=True)
with open("/proc/sys/kernel/cap_last_cap") as _file:
    _CAP_LAST = int(_file.read())


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, "%s: %s" % (what, os.strerror(error)))


def _mount(source, target, fstype, flags, data=None):
    _check(
        _libc.mount(source.encode(), target.encode(), fstype and fstype.encode(), flags, data and data.encode()),
        "mount %s" % target,
    )


def _umount(target):
    _check(_libc.umount2(target.encode(), _MNT_DETACH), "umount %s" % target)


class _Filter(ctypes.Structure):
    _fields_ = [("length", ctypes.c_ushort), ("program", ctypes.c_void_p)]


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def _lock_down(seccomp_program):
    # Every capability goes (bounding set, ambient, then the process's own), then no_new_privs and the seccomp filter,
    # as bubblewrap does for a fresh sandbox.
    for capability in range(_CAP_LAST + 1):
        _check(_libc.prctl(_PR_CAPBSET_DROP, capability, 0, 0, 0), "drop capability %d" % capability)
    _check(_libc.prctl(_PR_CAP_AMBIENT, _PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0), "clear ambient capabilities")
    header = _CapHeader(0x20080522, 0)
    data = (_CapData * 2)()
    _check(_libc.capset(ctypes.byref(header), data), "capset")
    _check(_libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
    buffer = ctypes.create_string_buffer(seccomp_program, len(seccomp_program))
    program = _Filter(len(seccomp_program) // 8, ctypes.addressof(buffer))
    _check(_libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(program), 0, 0), "seccomp")


def _loopback_up():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as handle:
        # SIOCSIFFLAGS with IFF_UP | IFF_LOOPBACK | IFF_RUNNING
        fcntl.ioctl(handle, 0x8914, struct.pack("16sH14s", b"lo", 0x1 | 0x8 | 0x40, b""))


def _make_zones(image, home, data, tmp_bytes):
    # Runs as pid 1 of the execution's new pid and mount namespaces. Like bubblewrap, it builds a root of its own (the
    # image, read-only; a /dev with the usual devices; a new /proc; tmpfs zones; the execution's home and /data) and
    # pivots into it, then detaches the template's whole tree: nothing of the template's mounts stays visible.
    _mount("none", "/", None, _MS_REC | _MS_SLAVE)
    root = "/tmp"
    # Non-recursive binds of mounts without children: the image's overlay, the home and /data tmpfs the server made.
    _mount(os.path.join(_MOUNTS, image), root, None, _MS_BIND)
    _mount("none", root, None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    for target, source in (("/home/sandbox", home), ("/data", data)):
        # A bind of the server's mount (a slave of it): what the server mounts there later reaches the execution.
        _mount(os.path.join(_MOUNTS, source), root + target, None, _MS_BIND)
    _mount("proc", root + "/proc", "proc", _MS_NOSUID | _MS_NODEV | _MS_NOEXEC)
    _mount("tmpfs", root + "/dev", "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=65536")
    for device in ("null", "zero", "full", "random", "urandom", "tty"):
        os.close(os.open(root + "/dev/" + device, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o644))
        _mount("/dev/" + device, root + "/dev/" + device, None, _MS_BIND)
    for name in ("shm", "pts"):
        os.mkdir(root + "/dev/" + name)
    for link, target in (("ptmx", "pts/ptmx"), ("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                         ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2"), ("core", "/proc/kcore")):
        os.symlink(target, root + "/dev/" + link)
    _mount("devpts", root + "/dev/pts", "devpts", _MS_NOSUID | _MS_NOEXEC, "newinstance,ptmxmode=0666,mode=620")
    for target in ("/tmp", "/dev/shm"):
        _mount("tmpfs", root + target, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=1777,size=%d" % tmp_bytes)
    run = root + "/run"
    _mount("tmpfs", run, "tmpfs", _MS_NOSUID | _MS_NODEV, "mode=0755,size=%d" % _RUN_BYTES)
    os.makedirs(run + "/airlock/host")
    _mount("/run/airlock/host", run + "/airlock/host", None, _MS_BIND)
    _mount("none", run + "/airlock/host", None, _MS_BIND | _MS_REMOUNT | _MS_RDONLY | _MS_NOSUID | _MS_NODEV)
    os.chdir(root)
    _check(_libc.syscall(155, b".", b"."), "pivot_root")
    _umount(".")
    os.chdir("/")
    # No process of the template's user namespace may make another (as bubblewrap's --disable-userns). /proc's
    # files stay read-only to the execution: it has no capability left.
    with open("/proc/sys/user/max_user_namespaces", "w") as limit:
        limit.write("0")
    _loopback_up()


def _pid1(ready, request, seccomp_program):
    # pid 1 of one execution: sets up its zones, reports, then lets the kernel reap orphans until the template kills
    # it once the execution's interpreter has ended (the kernel then ends every process left in the namespace). It
    # dies with the template's sandbox, whose pid namespace holds its own.
    try:
        os.setsid()
        image, home, data, tmp_bytes = request
        os.unshare(os.CLONE_NEWNS | os.CLONE_NEWUTS | os.CLONE_NEWIPC | os.CLONE_NEWNET)
        _make_zones(image, home, data, int(tmp_bytes))
        _lock_down(seccomp_program)
        # Orphans of the execution are reaped by the kernel.
        signal.signal(signal.SIGCHLD, signal.SIG_IGN)
        os.write(ready, b"ok")
        os.close(ready)
    except BaseException as error:
        os.write(ready, ("%s" % error).encode()[:400])
        os._exit(1)
    # The image's sleep waits in its place with a few pages of its own instead of this interpreter's copied heap; the
    # ignored SIGCHLD (kernel reaping) and the filter stay with it. Without a variable it stays in the C locale and
    # opens no locale file.
    try:
        os.execve("/bin/sleep", ["sleep", "infinity"], {})
    except OSError:
        pass
    while True:
        signal.pause()


def _namespace_maker(commands, replies, seccomp_program):
    # Forked before the imports: each request makes one execution's pid 1 and answers with its pid or an error. A
    # short-lived child makes the new pid namespace (a process makes one for its children only once); its pid 1 is
    # then this process's (a subreaper's) child, reaped by the kernel.
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    _libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    for line in _lines(commands):
        name, image, home, data, tmp_bytes = line.split()
        ready_read, ready_write = os.pipe()
        if os.fork() == 0:
            try:
                os.close(ready_read)
                os.unshare(os.CLONE_NEWPID)
                pid = os.fork()
                if pid == 0:
                    _pid1(ready_write, (image, home, data, tmp_bytes), seccomp_program)
                os.write(ready_write, b"P%d\n" % pid)
            finally:
                os._exit(0)
        os.close(ready_write)
        answer = b""
        while True:
            chunk = os.read(ready_read, 512)
            if not chunk:
                break
            answer += chunk
        os.close(ready_read)
        # The child's "P<pid>\n" and pid 1's "ok" (or its error) arrive in either order.
        pid_report = re.search(rb"P(\d+)\n", answer)
        rest = answer.replace(pid_report.group(0), b"", 1) if pid_report else answer
        if rest == b"ok" and pid_report:
            os.write(replies, b"%s %s\n" % (name.encode(), pid_report.group(1)))
        else:
            os.write(replies, b"%s 0 %s\n" % (name.encode(), rest.replace(b"\n", b" ") or b"no pid 1"))
    os._exit(0)


def _lines(descriptor):
    # Complete lines read from a descriptor until end of file, decoded.
    buffered = b""
    while True:
        chunk = os.read(descriptor, 1 << 16)
        if not chunk:
            return
        buffered += chunk
        *lines, buffered = buffered.split(b"\n")
        for line in lines:
            yield line.decode()


def _interpreter(pid1, names, seccomp_program):
    # The execution's interpreter: joins its pid 1's namespaces and cgroup, then runs the stub as a fresh sandbox would.
    try:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
        modes = (os.O_WRONLY, os.O_WRONLY, os.O_RDONLY, os.O_WRONLY)
        opened = [os.open(os.path.join(_PIPES, name), mode | os.O_NONBLOCK) for name, mode in zip(names, modes)]
        for descriptor in opened:
            os.set_blocking(descriptor, True)
        namespaces = {kind: os.open("/proc/%d/ns/%s" % (pid1, kind), os.O_RDONLY) for kind in ("uts", "ipc", "net", "mnt")}
        # The server writes "G" once this process is in the execution's cgroup.
        if os.read(opened[2], 1) != b"G":
            os._exit(126)
        os.unshare(os.CLONE_NEWCGROUP)
        for kind, flag in (("uts", os.CLONE_NEWUTS), ("ipc", os.CLONE_NEWIPC), ("net", os.CLONE_NEWNET), ("mnt", os.CLONE_NEWNS)):
            os.setns(namespaces[kind], flag)
        os.chdir("/home/sandbox")
        for target, descriptor in enumerate(opened, start=1):
            os.dup2(descriptor, target)
        os.closerange(5, os.sysconf("SC_OPEN_MAX"))
        signal.set_wakeup_fd(-1)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()
        _lock_down(seccomp_program)
        numpy = sys.modules.get("numpy.random")
        if numpy is not None:
            numpy.seed()
        # The template's own setting, not the sandbox's.
        os.environ.pop("MPLCONFIGDIR", None)
    except BaseException as error:
        try:
            os.write(2, ("fork setup failed: %s\n" % error).encode())
        finally:
            os._exit(127)
    _airlock_main()


def _use_mimalloc():
    # The template's objects on CPython's mimalloc where the interpreter has it (3.13 and later): mimalloc takes memory
    # in large aligned segments, which _collapse_heap can map with huge pages, where pymalloc's arenas are separate
    # 1 MiB mappings that no huge page fits in. An interpreter chooses its allocator only at start, so the template
    # starts itself once more with PYTHONMALLOC set, then removes the variable: forks inherit the allocator, not the
    # variable, and python processes the code starts use the default.
    if os.environ.pop("PYTHONMALLOC", None) is not None:
        return
    import sysconfig

    if not sysconfig.get_config_var("WITH_MIMALLOC") or not sys.executable:
        return
    with open("/proc/self/cmdline", "rb") as file:
        argv = file.read().split(b"\0")[:-1]
    try:
        os.execve(sys.executable, argv, dict(os.environ, PYTHONMALLOC="mimalloc"))
    except OSError:
        # The template runs on pymalloc instead.
        pass


def _gather_module_names():
    # The stub lists sys.modules's names before and after the code (python-stub.py), which writes the names' reference
    # counts, and a fork copies each page it writes. The names the import system built (a package's submodules) lie
    # on pages all over the heap, so sys.modules gets copies of them made one after the other, on a few pages.
    # Interned names stay as they are: most are immortal (Python 3.12 and later), with no count to write.
    is_interned = getattr(sys, "_is_interned", lambda name: False)
    entries = list(sys.modules.items())
    sys.modules.clear()
    for name, module in entries:
        if type(name) is str and not is_interned(name):
            name = (name + ".")[:-1]
        sys.modules[name] = module


def _collapse_heap():
    # The imported modules' heap in huge pages where the host allows them (MADV_COLLAPSE, Linux 6.1): each fork then
    # copies a page-table entry per 2 MiB instead of one per 4 KiB, and its exit unmaps as few. A fork that writes to
    # such a page copies only the 4 KiB it writes.
    huge = 2 << 20
    madvise = _libc.madvise
    madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
    with open("/proc/self/maps") as maps:
        regions = [line.split() for line in maps]
    for fields in regions:
        if "w" not in fields[1] or (len(fields) > 5 and fields[5] != "[heap]"):
            continue
        start, end = (int(value, 16) for value in fields[0].split("-"))
        start = (start + huge - 1) // huge * huge
        end = end // huge * huge
        if end > start:
            madvise(start, end - start, 14)  # MADV_HUGEPAGE
            madvise(start, end - start, 25)  # MADV_COLLAPSE


def _template():
    _use_mimalloc()
    seccomp_program = b""
    while True:
        chunk = os.read(5, 1 << 16)
        if not chunk:
            break
        seccomp_program += chunk
    os.close(5)
    commands_read, commands_write = os.pipe()
    replies_read, replies_write = os.pipe()
    maker = os.fork()
    if maker == 0:
        os.close(commands_write)
        os.close(replies_read)
        try:
            _namespace_maker(commands_read, replies_write, seccomp_program)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            os._exit(1)
    os.close(commands_read)
    os.close(replies_write)

    import gc
    import selectors
    import warnings

    requests = _lines(3)
    preload = next(requests).split()
    os.environ["MPLCONFIGDIR"] = "/home/sandbox/.config/matplotlib"
    failed = []
    for module in preload:
        try:
            __import__(module)
        except Exception as error:
            failed.append("%s(%s)" % (module, type(error).__name__))
    if "matplotlib" in sys.modules:
        sys.modules["matplotlib"].use("Agg")
    _gather_module_names()
    gc.collect()
    gc.freeze()
    _collapse_heap()
    os.write(4, ("R %s\n" % " ".join(failed)).encode())

    wakeup_read, wakeup_write = os.pipe()
    os.set_blocking(wakeup_write, False)
    signal.set_wakeup_fd(wakeup_write)
    signal.signal(signal.SIGCHLD, lambda number, frame: None)
    selector = selectors.DefaultSelector()
    selector.register(3, selectors.EVENT_READ, "request")
    selector.register(replies_read, selectors.EVENT_READ, "reply")
    selector.register(wakeup_read, selectors.EVENT_READ, "child")
    buffered = {3: b"", replies_read: b""}
    pending = {}
    running = {}

    def complete_lines(descriptor):
        chunk = os.read(descriptor, 1 << 16)
        if not chunk:
            os._exit(0 if descriptor == 3 else 70)
        *lines, buffered[descriptor] = (buffered[descriptor] + chunk).split(b"\n")
        return [line.decode() for line in lines]

    while True:
        for key, _ in selector.select():
            if key.data == "request":
                for line in complete_lines(3):
                    if line.startswith("K "):
                        pid = next((pid for pid, (name, _) in running.items() if name == line[2:]), None)
                        if pid is not None:
                            os.kill(pid, signal.SIGKILL)
                        continue
                    name, image, home, data, tmp_bytes, *pipes = line.split()
                    pending[name] = pipes
                    os.write(commands_write, ("%s %s %s %s %s\n" % (name, image, home, data, tmp_bytes)).encode())
            elif key.data == "reply":
                for line in complete_lines(replies_read):
                    name, pid1, *error = line.split(" ", 2)
                    pipes = pending.pop(name)
                    if pid1 == "0":
                        os.write(4, ("E %s %s\n" % (name, " ".join(error).strip())).encode())
                        continue
                    pid1 = int(pid1)
                    namespace = os.open("/proc/%d/ns/pid" % pid1, os.O_RDONLY)
                    os.setns(namespace, os.CLONE_NEWPID)
                    os.close(namespace)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", DeprecationWarning)
                        pid = os.fork()
                    if pid == 0:
                        _interpreter(pid1, pipes, seccomp_program)
                    running[pid] = (name, pid1)
                    os.write(4, ("F %s %d %d\n" % (name, pid1, pid)).encode())
            else:
                os.read(wakeup_read, 512)
                while True:
                    try:
                        pid, status = os.waitpid(-1, os.WNOHANG)
                    except ChildProcessError:
                        break
                    if pid == 0:
                        break
                    if pid == maker:
                        os._exit(70)
                    name, pid1 = running.pop(pid, (None, None))
                    if name is None:
                        continue
                    code = os.waitstatus_to_exitcode(status)
                    try:
                        os.kill(pid1, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                    os.write(4, ("X %s %d\n" % (name, code if code >= 0 else 128 - code)).encode())


_template()
