import re

import pytest

from airlock import (
    Airlock,
    AuthenticationError,
    ConfigurationError,
    ExecutionResult,
    NotFoundError,
    ValidationError,
)


def test_python_runs_and_its_output_comes_back(client: Airlock) -> None:
    result = client.execute("import sys\nprint('hello')\nprint('warn', file=sys.stderr)")
    assert isinstance(result, ExecutionResult)
    assert (result.success, result.status, result.exit_code, result.error) == (True, "success", 0, None)
    assert (result.stdout, result.stderr) == ("hello\n", "warn\n")
    assert re.fullmatch(r"trc_[0-9a-z]{20}", result.trace_id)
    assert isinstance(result.duration_ms, int) and result.duration_ms >= 0
    assert result.stdout_truncated is False


def test_bash_with_environment_variables(client: Airlock) -> None:
    result = client.execute('echo "$GREETING from $0"', language="bash", env_vars={"GREETING": "hi"})
    assert result.stdout.startswith("hi from ")
    assert result.success


def test_a_non_zero_exit_is_a_result_not_an_exception(client: Airlock) -> None:
    result = client.execute("echo partial; exit 3", language="bash")
    assert (result.success, result.status, result.exit_code, result.stdout) == (False, "failed", 3, "partial\n")


def test_a_timeout_is_a_result_killed_by_sigkill(client: Airlock) -> None:
    result = client.execute("import time\nprint('started', flush=True)\ntime.sleep(30)", timeout=1)
    assert (result.success, result.status, result.exit_code) == (False, "timeout", 137)
    assert result.stdout == "started\n"
    assert result.error == "timeout"
    assert result.error_message == "execution timed out after 1 s and was killed"


def test_invalid_requests_raise_validation_error_with_the_servers_message(client: Airlock) -> None:
    with pytest.raises(ValidationError) as raised:
        client.execute("")
    error = raised.value
    assert (error.status, error.code, error.message) == (400, "validation_error", "code: must not be empty")
    assert error.request_id and error.request_id.startswith("req_")
    assert "code: must not be empty" in str(error) and error.request_id in str(error)

    with pytest.raises(ValidationError, match="language"):
        client.execute("print(1)", language="cobol")
    with pytest.raises(ValidationError, match="env_vars.PATH: name is reserved"):
        client.execute("print(1)", env_vars={"PATH": "/tmp"})


def test_a_wrong_key_raises_authentication_error(airlock_server) -> None:
    with Airlock(api_key="sk-test-not-a-key", base_url=airlock_server.url) as wrong:
        with pytest.raises(AuthenticationError) as raised:
            wrong.execute("print(1)")
    assert (raised.value.status, raised.value.code) == (401, "unauthorized")


def test_configuration_comes_from_the_environment(airlock_server, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIRLOCK_API_KEY", raising=False)
    monkeypatch.delenv("AIRLOCK_URL", raising=False)
    with pytest.raises(ConfigurationError, match="AIRLOCK_API_KEY"):
        Airlock()
    with pytest.raises(ConfigurationError, match="AIRLOCK_URL"):
        Airlock(api_key="sk-x", base_url="127.0.0.1:8080")
    assert Airlock(api_key="sk-x").base_url == "http://127.0.0.1:8080"

    monkeypatch.setenv("AIRLOCK_API_KEY", airlock_server.api_key)
    monkeypatch.setenv("AIRLOCK_URL", airlock_server.url + "/")
    with Airlock() as configured:
        assert configured.base_url == airlock_server.url
        assert configured.execute("print(2 + 2)").stdout == "4\n"


def test_the_record_of_an_execution(client: Airlock) -> None:
    result = client.execute("print('recorded')", metadata={"job": "7"})
    record = client.get_execution(result.trace_id)
    assert (record.trace_id, record.status, record.exit_code, record.stdout) == (
        result.trace_id,
        "success",
        0,
        "recorded\n",
    )
    assert record.done and record.delivery_mode == "inline" and record.webhook_url is None
    assert record.metadata == {"job": "7"}
    assert record.completed_at is not None and record.completed_at >= record.created_at

    with pytest.raises(NotFoundError) as raised:
        client.get_execution("trc_00000000000000000000")
    assert raised.value.code == "not_found"
