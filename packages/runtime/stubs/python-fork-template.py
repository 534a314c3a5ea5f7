# Airlock's python fork template (docs/decisions/0033-fork-tier.md), appended to python-stub.py's functions and
# started with `python3 -c` in a sandbox of its own that keeps CAP_SYS_ADMIN, CAP_SYS_CHROOT, CAP_NET_ADMIN,
# CAP_SETPCAP and CAP_SYS_RESOURCE in its user namespace. It never runs user code. Processes:
# - the template imports the preloaded modules, then forks one interpreter per execution;
# - the namespace maker (native/fork-namespaces.c), started before the imports, makes each execution's pid 1 in new
#   pid, mount, UTS, IPC and network namespaces; that pid 1 builds the execution's own root, drops every capability,
#   applies a seccomp filter of its own that allows only waiting, then holds the namespaces while the kernel reaps
#   orphans;
# - the execution's interpreter, a fork of the template, joins those namespaces as pid 2, waits until the server has
#   moved it into the execution's cgroup, drops every capability, sets no_new_privs, applies seccomp and runs the stub;
#   at its end it reports its exit code on the stub's events pipe, then exits.
# Control: fd 3 carries the server's requests, one per line (a fork, or K to kill one); fd 4 the template's reports,
# one per line (R ready, F forked, E failed, X exited); fd 5 the seccomp program; fd 8 the namespace maker's
# executable. Paths in requests are relative to the views of the server's pipes and mounts.
import ctypes
import os
import signal
import sys

_PIPES = "/run/airlock-fork/pipes"
_MAKER_FD = 8

_PR_SET_PDEATHSIG, _PR_CAPBSET_DROP, _PR_SET_SECCOMP, _PR_SET_NO_NEW_PRIVS, _PR_CAP_AMBIENT = 1, 24, 22, 38, 47
_SECCOMP_MODE_FILTER, _PR_CAP_AMBIENT_CLEAR_ALL = 2, 4

_libc = ctypes.CDLL(None, use_errno=True)
with open("/proc/sys/kernel/cap_last_cap") as _file:
    _CAP_LAST = int(_file.read())


def _check(result, what):
    if result != 0:
        error = ctypes.get_errno()
        raise OSError(error, "%s: %s" % (what, os.strerror(error)))


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
    # on pages all over the heap, so sys.modules gets copies of them made one after the other, on fewer pages. Where
    # the interpreter has immortal objects (3.12 and later, with the GIL: None's count is the immortal value), the
    # copies are made immortal too, as interned names mostly are: their counts are never written again, by the stub or
    # by the code, so no fork copies their pages.
    import sysconfig

    is_interned = getattr(sys, "_is_interned", lambda name: False)
    immortal = sys.getrefcount(None)
    if immortal < 1 << 31 or sysconfig.get_config_var("Py_GIL_DISABLED"):
        immortal = None
    entries = list(sys.modules.items())
    sys.modules.clear()
    for name, module in entries:
        if type(name) is str and not is_interned(name):
            name = (name + ".")[:-1]
            if immortal is not None:
                ctypes.c_ssize_t.from_address(id(name)).value = immortal
        sys.modules[name] = module


def _collapse_heap():
    # The imported modules' heap in huge pages where the host allows them (MADV_COLLAPSE, Linux 6.1): each fork then
    # copies a page-table entry per 2 MiB instead of one per 4 KiB, and its exit unmaps as few. A fork that writes to
    # such a page copies only the 4 KiB it writes. The regions then refuse new huge pages (MADV_NOHUGEPAGE keeps the
    # ones made): a fork's first touch of an unused 2 MiB of its heap would otherwise zero and hold a whole huge page.
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
            madvise(start, end - start, 15)  # MADV_NOHUGEPAGE


def _start_maker(commands, replies):
    # The namespace maker's executable is open on _MAKER_FD (the image's root need not hold it). It runs from a copy
    # in memory: each pid 1 is a fork of it, and the code reads pid 1's /proc/1/exe, which would name the host's file.
    # Its fds are 0 the requests, 1 the replies and 2 this template's stderr; its environment is empty.
    executable = os.memfd_create("airlock-fork-namespaces", 0)
    while os.sendfile(executable, _MAKER_FD, None, 1 << 20) > 0:
        pass
    os.close(_MAKER_FD)
    actions = [(os.POSIX_SPAWN_DUP2, commands, 0), (os.POSIX_SPAWN_DUP2, replies, 1)]
    maker = os.posix_spawn("/proc/self/fd/%d" % executable, ["airlock-fork-namespaces"], {}, file_actions=actions)
    os.close(executable)
    return maker


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
    maker = _start_maker(commands_read, replies_write)
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
