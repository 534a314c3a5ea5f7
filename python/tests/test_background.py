import json
import time

import pytest
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from airlock import Airlock, ExecutionHandle, NotFoundError, ValidationError, WaitTimeoutError
from support.server import webhook_secret
from support.webhook_receiver import WebhookReceiver


def test_execute_async_answers_at_once_and_wait_polls_until_the_end(client: Airlock) -> None:
    started = time.monotonic()
    handle = client.execute_async("import time\ntime.sleep(1)\nprint('done')")
    assert time.monotonic() - started < 0.9
    assert isinstance(handle, ExecutionHandle) and handle.status == "running"
    assert handle.get().status == "running"
    record = handle.wait(timeout=30)
    assert (record.status, record.exit_code, record.stdout, record.delivery_mode) == ("success", 0, "done\n", "webhook")
    assert record.webhook_url is None and record.webhook_delivery_status is None
    with pytest.raises(NotFoundError):
        handle.webhook_delivery()


def test_wait_gives_up_after_its_timeout(client: Airlock) -> None:
    handle = client.execute_async("sleep 30", language="bash")
    with pytest.raises(WaitTimeoutError, match=handle.trace_id):
        handle.wait(timeout=0.5)
    assert handle.cancel().status == "cancelled"
    record = handle.wait(timeout=20)
    assert (record.status, record.exit_code) == ("cancelled", 137)
    # A finished execution's cancel answers its final status.
    assert handle.cancel().status == "cancelled"


def test_the_result_is_posted_to_the_webhook_url_signed_per_standard_webhooks(client: Airlock, airlock_server) -> None:
    receiver = WebhookReceiver()
    try:
        handle = client.execute_async("print('hooked')", webhook_url=receiver.url, metadata={"job": "42"})
        [webhook] = receiver.wait_for(1)
        secret = webhook_secret(airlock_server)
        payload = Webhook(secret).verify(webhook.body, webhook.headers)
        assert webhook.headers["webhook-id"] == handle.trace_id
        assert payload["trace_id"] == handle.trace_id
        assert (payload["success"], payload["stdout"], payload["exit_code"], payload["metadata"]) == (
            True,
            "hooked\n",
            0,
            {"job": "42"},
        )
        tampered = json.dumps({**json.loads(webhook.body), "stdout": "forged\n"})
        with pytest.raises(WebhookVerificationError):
            Webhook(secret).verify(tampered, webhook.headers)

        deadline = time.monotonic() + 20
        delivery = client.get_webhook_delivery(handle.trace_id)
        while delivery.status != "delivered" and time.monotonic() < deadline:
            time.sleep(0.1)
            delivery = handle.webhook_delivery()
        assert (delivery.url, delivery.status, delivery.next_attempt_at) == (receiver.url, "delivered", None)
        assert [(attempt.attempt, attempt.status_code, attempt.error) for attempt in delivery.attempts] == [
            (1, 204, None)
        ]
        record = handle.wait(timeout=20)
        assert (record.webhook_url, record.webhook_delivery_status) == (receiver.url, "delivered")
    finally:
        receiver.close()


def test_a_refused_webhook_url_is_a_validation_error(client: Airlock) -> None:
    with pytest.raises(ValidationError, match="^webhook_url: "):
        client.execute_async("print(1)", webhook_url="https://10.0.0.1/hook")
