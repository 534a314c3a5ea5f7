"""A real Airlock server for the tests: `airlock serve` from the built CLI, as its own process."""

from __future__ import annotations

import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Dict, Iterator, List, Optional

import httpx

REPOSITORY = Path(__file__).resolve().parents[3]
CLI = REPOSITORY / "packages" / "cli" / "dist" / "main.js"
STARTUP_SECONDS = 60

# Development settings the webhook tests need: loopback receivers over http, fast retries.
WEBHOOK_DEVELOPMENT = {
    "AIRLOCK_WEBHOOK_ALLOW_LOOPBACK": "true",
    "AIRLOCK_WEBHOOK_RETRY_SECONDS": "0.2",
    "AIRLOCK_WEBHOOK_MAX_ATTEMPTS": "3",
}


def default_images_directory() -> Path:
    """As test/global-setup.ts: `.cache/images` in the checkout, unless the checkout sits below a directory the
    sandbox user cannot traverse (bubblewrap opens the image as that user); then a shared one under /var/tmp."""
    override = os.environ.get("AIRLOCK_TEST_IMAGES_DIR")
    if override:
        return Path(override)
    directory = REPOSITORY
    while directory != directory.parent:
        if directory.stat().st_mode & 0o001 == 0:
            return Path("/var/tmp/airlock-test-images")
        directory = directory.parent
    return REPOSITORY / ".cache" / "images"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise RuntimeError("node is not on PATH; the tests start the server with node packages/cli/dist/main.js")
    if not CLI.exists():
        raise RuntimeError(f"{CLI} is missing: run `npm run build` first")
    return found


def base_environment(images_directory: Path) -> Dict[str, str]:
    """What a CLI process gets: PATH, HOME and the test images, nothing of the developer's AIRLOCK_* settings."""
    return {
        "PATH": os.environ["PATH"],
        "HOME": os.environ.get("HOME", "/root"),
        "AIRLOCK_IMAGES_DIR": str(images_directory),
    }


def ensure_image(images_directory: Path) -> None:
    """Builds the default runtime image unless it is there (the vitest suite's global setup usually built it)."""
    completed = subprocess.run(
        [node(), str(CLI), "images", "build", "--local"],
        env=base_environment(images_directory),
        capture_output=True,
        text=True,
        timeout=900,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"airlock images build failed ({completed.returncode}):\n{completed.stderr}")


def sandbox_uid() -> int:
    """A host uid for this server's sandboxes, distinct from other test servers running at the same time."""
    return 62_000 + secrets.randbelow(3000)


@dataclass
class RunningServer:
    url: str
    api_key: str
    admin_token: str
    data_directory: Path
    process: subprocess.Popen
    output: List[str] = field(default_factory=list)


@contextmanager
def serve(images_directory: Path, environment: Optional[Dict[str, str]] = None) -> Iterator[RunningServer]:
    """`airlock serve --port 0` on a fresh data directory; always stopped and its data directory removed."""
    data_directory = Path(tempfile.mkdtemp(prefix="airlock-pytest-"))
    api_key = f"sk-test-{secrets.token_urlsafe(24)}"
    uid = str(sandbox_uid())
    env = {
        **base_environment(images_directory),
        "AIRLOCK_BOOTSTRAP_API_KEY": api_key,
        "AIRLOCK_SANDBOX_UID": uid,
        "AIRLOCK_SANDBOX_GID": uid,
        **(environment or {}),
    }
    process: Optional[subprocess.Popen] = None
    try:
        process = subprocess.Popen(
            [node(), str(CLI), "serve", "--port", "0", "--data-dir", str(data_directory)],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        output: List[str] = []
        started = threading.Event()
        found: Dict[str, str] = {}

        def read(stream: IO[str]) -> None:
            for line in stream:
                output.append(line)
                match = re.search(r"Airlock is running at (http://\S+)", line)
                if match and not started.is_set():
                    found["url"] = match.group(1)
                    started.set()
            started.set()  # the process ended: stop waiting

        for stream in (process.stdout, process.stderr):
            threading.Thread(target=read, args=(stream,), daemon=True).start()
        if not started.wait(STARTUP_SECONDS) or "url" not in found:
            raise RuntimeError(f"airlock serve did not start (exit code {process.poll()}):\n{''.join(output)}")
        admin_token = (data_directory / "admin-token").read_text().strip()
        yield RunningServer(found["url"], api_key, admin_token, data_directory, process, output)
    finally:
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        shutil.rmtree(data_directory, ignore_errors=True)


def webhook_secret(server: RunningServer) -> str:
    """The default sandbox config's webhook signing secret, read with the admin token."""
    response = httpx.get(
        f"{server.url}/admin/v1/sandboxes/default/webhook-secret",
        headers={"Authorization": f"Bearer {server.admin_token}"},
    )
    response.raise_for_status()
    secret: str = response.json()["secret"]
    return secret
