"""The tool every integration shares: what the model reads back, and what importing airlock costs."""

from __future__ import annotations

import subprocess
import sys

from airlock import Airlock
from airlock.integrations._code_sandbox import CodeSandbox
from support.server import RunningServer

FRAMEWORKS = ("anthropic", "agents", "langchain_core", "google.genai", "crewai")


def test_importing_airlock_and_its_integrations_package_imports_no_framework() -> None:
    probe = (
        "import sys, airlock, airlock.integrations; "
        f"print(sorted(name for name in {FRAMEWORKS!r} if name in sys.modules))"
    )
    completed = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "[]"


def test_a_failing_run_is_a_result_with_its_stderr(airlock_server: RunningServer) -> None:
    sandbox = CodeSandbox(api_key=airlock_server.api_key, base_url=airlock_server.url, language="bash")
    try:
        text = sandbox.run("echo partial; echo broken >&2; exit 3")
    finally:
        sandbox.close()
    assert text == "exit_code: 3 (failed)\n--- stdout ---\npartial\n--- stderr ---\nbroken"


def test_a_timeout_the_server_rejects_comes_back_as_text_for_the_model(client: Airlock) -> None:
    text = CodeSandbox(client=client).run("print(1)", timeout=99999)
    assert text.startswith("The sandbox refused the call: ") and "timeout" in text


def test_a_killed_run_reports_the_timeout(client: Airlock) -> None:
    code = "import time; print('start', flush=True); time.sleep(30)"
    text = CodeSandbox(client=client, timeout=1).run_input({"code": code})
    assert text.startswith("exit_code: 137 (timeout)\nerror: ")
    assert "--- stdout ---\nstart" in text


def test_the_description_states_the_network_the_sandbox_has() -> None:
    blocked = CodeSandbox().description
    unrestricted = CodeSandbox(network="unrestricted").description
    allowlist = CodeSandbox(network="allowlist", network_allow=["api.example.com", "198.51.100.0/24"]).description
    assert "It has no network access" in blocked and "internet" not in blocked
    assert "It has internet access" in unrestricted and "no network access" not in unrestricted
    assert "It reaches only these names and networks: api.example.com, 198.51.100.0/24. Names" in allowlist
    assert "no network access" not in allowlist and "internet" not in allowlist
    for options, message in (
        ({"network": "open"}, "network must be 'blocked', 'allowlist' or 'unrestricted'"),
        ({"network": "allowlist"}, "network_allow: network 'allowlist' needs its entries"),
        ({"network": "allowlist", "network_allow": []}, "network_allow: network 'allowlist' needs its entries"),
        ({"network": "unrestricted", "network_allow": ["api.example.com"]}, "network_allow: only network 'allowlist'"),
    ):
        try:
            CodeSandbox(**options)  # type: ignore[arg-type]
        except ValueError as error:
            assert message in str(error)
        else:
            raise AssertionError(f"{options} was accepted")
