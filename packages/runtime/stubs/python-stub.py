# Airlock's python entry point: started with `python3 -c`, it waits for one request on fd 3, applies the working
# directory and environment, writes the call's files (connectors' credentials, in the sandbox's own /run), then runs
# the code as `python3 -c CODE` would, in a fresh __main__ module.
_AIRLOCK_EXIT_REPORT_FD = 63


def _airlock_run():
    import os
    import sys
    import time

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
    # Kept, out of the way, for an exit report (a forked interpreter's; a fresh one ends with its process).
    os.dup2(4, _AIRLOCK_EXIT_REPORT_FD, inheritable=False)
    os.close(4)
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


_airlock_run()
