import json
import logging

import pytest

from apps.core.logging import JsonFormatter, RedactSecretsFilter, redact


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("GET /ws/?token=eyJabc.def.ghi", "eyJabc.def.ghi"),
        ('{"password": "hunter2"}', "hunter2"),
        ("refresh_token=abc123&x=1", "abc123"),
        ("Authorization: Bearer eyJ.secret.sig", "eyJ.secret.sig"),
    ],
)
def test_redact_removes_secrets(raw, secret):
    assert secret not in redact(raw)


def test_filter_and_formatter_produce_json_without_secrets():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "connect %s", ("/ws/?token=abc.def",), None)
    assert RedactSecretsFilter().filter(record)
    line = JsonFormatter().format(record)
    data = json.loads(line)
    assert "abc.def" not in line
    assert data["level"] == "INFO"


@pytest.mark.django_db(transaction=True)
async def test_access_log_line_has_fields_and_no_query_string(client, caplog):
    caplog.set_level(logging.INFO, logger="apps.access")
    await client.get("/api/v1/health?token=very-secret", headers={"X-Request-ID": "req-42"})
    records = [r for r in caplog.records if r.name == "apps.access"]
    assert records, "no access line"
    record = records[-1]
    assert record.method == "GET"
    assert record.status == 200
    assert record.route == "api/v1/health"
    assert record.duration_ms >= 0
    assert record.user_id is None
    assert record.request_id == "req-42"
    assert "very-secret" not in record.getMessage() and "very-secret" not in record.path
