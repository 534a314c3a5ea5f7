# Airlock's python entry point: started with `python3 -c`, it waits for one request on fd 3, applies the working
# directory and environment, writes the call's files (connectors' credentials, in the sandbox's own /run), then runs
# the code as `python3 -c CODE` would, in a fresh __main__ module, and ends as the interpreter would, short of tearing
# down the modules that were loaded before the code ran.
_AIRLOCK_EXIT_REPORT_FD = 63


def _airlock_main():
    # What the code's exit status is, as the interpreter's handling of SystemExit decides it; then the exit.
    import sys

    loaded = set()
    try:
        _airlock_run(loaded)
        code = 0
    except SystemExit as exit:
        code = exit.code
        if code is None:
            code = 0
        elif not isinstance(code, int):
            sys.stderr.write("%s\n" % code)
            code = 1
    except BaseException:
        # The stub's own failure, before the code ran.
        import traceback

        traceback.print_exc()
        code = 1
    _airlock_exit(code, loaded, sys)


def _airlock_run(loaded):
    import gc
    import os
    import sys
    import time

    # A fresh sandbox's output comes as fds 7 and 8 (bubblewrap holds fds 1 and 2 until its end); a fork's is at 1 and 2.
    try:
        os.dup2(7, 1)
        os.dup2(8, 2)
        os.close(7)
        os.close(8)
    except OSError:
        pass
    # What does not depend on the request is done before it comes: the fresh __main__ module, line-buffered output
    # (so streamed output arrives while the code runs, as on a terminal). The paths the request takes are run once on
    # a sample, so the call does not pay for their first run: compile and exec, parsing, a variable set and removed,
    # the user site directory's name.
    main = type(sys)("__main__")
    main.__loader__ = sys.modules["__main__"].__loader__
    main.__spec__ = None
    main.__package__ = None
    sys.modules["__main__"] = main
    sys.stdout.reconfigure(line_buffering=True)
    exec(compile("pass", "<string>", "exec"), {})
    _airlock_parse_request(b"/\x001\x00AIRLOCK_WARM=1\x000\x00pass")
    os.environb[b"AIRLOCK_WARM"] = b"1"
    del os.environb[b"AIRLOCK_WARM"]
    _airlock_add_user_site(os, sys, probe=False)
    time.monotonic_ns()
    # What exists now is the interpreter's and the stub's: collections, the one at exit included, skip it.
    gc.freeze()
    os.write(4, b"R")
    chunks = []
    while True:
        chunk = os.read(3, 1 << 20)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(3)
    cwd, entries, files, source = _airlock_parse_request(b"".join(chunks))
    for entry in entries:
        name, _, value = entry.partition(b"=")
        os.environb[name] = value
    if files:
        _airlock_write_files(os, files)
    os.chdir(cwd)
    _airlock_add_user_site(os, sys)
    os.write(4, b"S%d\n" % time.monotonic_ns())
    # Kept, out of the way, for the exit report.
    os.dup2(4, _AIRLOCK_EXIT_REPORT_FD, inheritable=False)
    os.close(4)
    report = os.fstat(_AIRLOCK_EXIT_REPORT_FD)
    _airlock_exit_report_pipe[:] = [report.st_dev, report.st_ino]
    loaded.update(sys.modules)
    try:
        code = compile(source, "<string>", "exec")
        _airlock_register_source(code, source, sys)
        exec(code, main.__dict__)
    except SystemExit:
        raise
    except BaseException as error:
        # Report as the interpreter would, without this function's frame.
        error.__traceback__ = error.__traceback__.tb_next
        sys.excepthook(type(error), error, error.__traceback__)
        if isinstance(error, KeyboardInterrupt):
            import signal

            sys.stdout.flush()
            signal.signal(signal.SIGINT, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGINT)
        raise SystemExit(1)


# The device and inode of the events pipe the exit is reported on.
_airlock_exit_report_pipe = []


def _airlock_exit(code, loaded, sys):
    # As the interpreter would end: non-daemon threads joined, exit handlers, flushed streams, then the modules the
    # code imported and __main__ cleared (so its objects are finalized: files flushed and closed, __del__ run) and a
    # collection; then the exit is reported and the process ends without tearing down the other modules (the whole
    # process goes): the server answers without waiting for the interpreter's teardown or the sandbox's exit.
    import atexit
    import gc
    import os

    try:
        threading = sys.modules.get("threading")
        if threading is not None:
            threading._shutdown()
        atexit._run_exitfuncs()
        _airlock_flush_standard_streams(sys)
        # Nothing of the code's to clear if the stub failed before it ran.
        names = [name for name in sys.modules if name not in loaded] + ["__main__"] if loaded else []
        for name in reversed(names):
            namespace = getattr(sys.modules.get(name), "__dict__", None)
            if namespace is not None:
                _airlock_clear_namespace(namespace)
        gc.collect()
    finally:
        _airlock_flush_standard_streams(sys)
        _airlock_report_exit(code & 0xFF, os)
        os._exit(code & 0xFF)


def _airlock_report_exit(code, os):
    # The output and every other descriptor closed (files released, on /data too; sockets shut), then the exit code on
    # the stub's events pipe (if the code left it where the stub put it): what the server does after the code's end
    # (a thread's save, uploads) then finds nothing of the code open, though the process has yet to go.
    try:
        report = os.fstat(_AIRLOCK_EXIT_REPORT_FD)
        if [report.st_dev, report.st_ino] != _airlock_exit_report_pipe:
            return
        os.closerange(0, _AIRLOCK_EXIT_REPORT_FD)
        os.closerange(_AIRLOCK_EXIT_REPORT_FD + 1, os.sysconf("SC_OPEN_MAX"))
        os.write(_AIRLOCK_EXIT_REPORT_FD, b"E%d\n" % code)
    except OSError:
        pass


def _airlock_clear_namespace(namespace):
    # As the interpreter clears a module at exit: names starting with one underscore first, then the others, to None.
    for first in (True, False):
        for name in list(namespace):
            if name != "__builtins__" and (name.startswith("_") and not name.startswith("__")) == first:
                namespace[name] = None


def _airlock_flush_standard_streams(sys):
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BaseException:
            pass


def _airlock_parse_request(request):
    # NUL-terminated fields (working directory, variable count and NAME=value entries, file count and path, content
    # pairs), then the code: (cwd, entries, file parts, code).
    cwd, count, rest = request.split(b"\0", 2)
    fields = rest.split(b"\0", int(count))
    file_count, rest = fields[-1].split(b"\0", 1)
    files = rest.split(b"\0", 2 * int(file_count))
    return cwd, fields[:-1], files[:-1], files[-1]


def _airlock_write_files(os, parts):
    for index in range(0, len(parts), 2):
        path, content = parts[index], parts[index + 1]
        os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
        view = memoryview(content)
        while view:
            view = view[os.write(descriptor, view):]
        os.close(descriptor)


def _airlock_register_source(code, source, sys):
    # Tracebacks show the code's lines, as python3 -c registers its command with linecache (Python 3.13 and later).
    linecache = sys.modules.get("linecache")
    register = getattr(linecache, "_register_code", None)
    if register is not None:
        register(code, source.decode("utf-8", "replace"), "<string>")


def _airlock_add_user_site(os, sys, probe=True):
    # The home (with ~/.local) may have been mounted after the interpreter started: add its user site directory
    # where start-up would have, ahead of the system's site-packages, with its .pth files.
    import site

    if not site.ENABLE_USER_SITE:
        return
    user_site = site.getusersitepackages()
    if not probe or user_site in sys.path or not os.path.isdir(user_site):
        return
    before = list(sys.path)
    site.addsitedir(user_site)
    added = sys.path[len(before):]
    index = next(
        (i for i, entry in enumerate(before) if entry.endswith(("site-packages", "dist-packages"))), len(before)
    )
    sys.path[:] = before[:index] + added + before[index:]


_airlock_main()
