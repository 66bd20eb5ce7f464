"""What load balancers and orchestrators ask: is the process alive, are its dependencies up."""

import copy
import ipaddress
import json
import logging
import sys
from contextlib import contextmanager

import pytest
from campaign_helpers import make_audience, make_issue, start
from prometheus_client.parser import text_string_to_metric_families
from smtp import free_port

from newsletter import create_app
from newsletter.config import ConfigError, from_environment
from newsletter.logs import JsonFormatter


def test_healthz_answers_without_login_and_says_nothing_more(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}
    assert response.headers["Cache-Control"] == "no-store"


def test_readyz_is_ok_when_the_database_broker_and_relay_answer(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


@contextmanager
def changed_config(app, **values):
    saved = {key: copy.deepcopy(app.config[key]) for key in values}
    app.config.update(values)
    try:
        yield
    finally:
        app.config.update(saved)


def test_readyz_names_a_stopped_broker_and_recovers_when_it_is_back(app, client, private_redis):
    redis_url, change = private_redis
    celery = copy.deepcopy(app.config["CELERY"]) | {"broker_url": redis_url}
    with changed_config(app, CELERY=celery):
        assert client.get("/readyz").status_code == 200
        change("stop")
        response = client.get("/readyz")
        assert response.status_code == 503
        assert response.get_json() == {"status": "unavailable", "unreachable": ["broker"]}
        assert redis_url.split("//")[1].split("/")[0] not in response.get_data(as_text=True)
        change("restart")
        assert client.get("/readyz").status_code == 200


def test_readyz_names_a_relay_that_does_not_answer(app, client):
    with changed_config(app, SMTP_URL=f"smtp://127.0.0.1:{free_port()}"):
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.get_json()["unreachable"] == ["smtp"]
    assert client.get("/readyz").status_code == 200


def test_readyz_without_a_relay_configured_does_not_check_one(app, client):
    with changed_config(app, SMTP_URL=None):
        assert client.get("/readyz").get_json() == {"status": "ok"}


def test_readyz_names_a_database_that_does_not_answer(tmp_path):
    """PostgreSQL at an address where nothing listens, as when the server is stopped."""
    settings = from_environment(
        {
            "DATABASE_URL": f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/none",
            "INSTANCE_PATH": str(tmp_path),
        }
    )
    settings["TESTING"] = True
    response = create_app(settings).test_client().get("/readyz")
    assert response.status_code == 503
    assert response.get_json() == {"status": "unavailable", "unreachable": ["database"]}
    assert "127.0.0.1" not in response.get_data(as_text=True)


def samples(page: str) -> dict[tuple[str, tuple], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(page)
        for sample in family.samples
    }


def test_metrics_are_not_there_for_anyone_unless_configured(app, client):
    assert client.get("/metrics").status_code == 404
    with changed_config(app, METRICS_TOKEN="s3cret-token"):
        assert client.get("/metrics").status_code == 404
        for wrong in ("Bearer s3cret", "Bearer s3cret-token-and-more", "s3cret-token", "Basic x"):
            assert client.get("/metrics", headers={"Authorization": wrong}).status_code == 404
        assert client.get("/metrics", headers=BEARER).status_code == 200
    with changed_config(app, METRICS_ALLOWED_IPS=[ipaddress.ip_network("10.0.0.0/8")]):
        assert client.get("/metrics").status_code == 404
    with changed_config(app, METRICS_ALLOWED_IPS=[ipaddress.ip_network("127.0.0.0/8")]):
        assert client.get("/metrics").status_code == 200


BEARER = {"Authorization": "Bearer s3cret-token"}


def test_metrics_show_subscribers_and_the_ledger_of_issues_being_sent(app, client, in_app):
    audience = in_app(make_audience, per_language=2)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    with changed_config(app, METRICS_TOKEN="s3cret-token"):
        before = samples(client.get("/metrics", headers=BEARER).get_data(as_text=True))
        queued = in_app(start, issue_id)
        during = samples(client.get("/metrics", headers=BEARER).get_data(as_text=True))
        response = client.get("/metrics", headers=BEARER)
    assert response.mimetype == "text/plain"
    assert before[("newsletter_ledger_backlog", ())] == 0
    # Two readers in each of en, es, fr, de, one Italian, one suppressed, one on another list.
    assert before[("newsletter_subscribers", (("status", "confirmed"),))] == 11
    assert before[("newsletter_subscribers", (("status", "pending"),))] == 1
    assert during[("newsletter_ledger_backlog", ())] == queued > 0
    assert during[("newsletter_ledger_rows", (("state", "queued"),))] == queued
    assert during[("newsletter_ledger_rows", (("state", "sent"),))] == 0
    assert "example.org" not in response.get_data(as_text=True)


def test_a_malformed_allowed_network_stops_the_start():
    with pytest.raises(ConfigError, match="METRICS_ALLOWED_IPS"):
        from_environment({"METRICS_ALLOWED_IPS": "127.0.0.1/8, not-a-network"})


def test_a_json_log_line_carries_the_event_fields_and_the_exception():
    record = logging.makeLogRecord(
        {"name": "newsletter", "levelno": logging.ERROR, "levelname": "ERROR", "msg": "Issue %s"}
    )
    record.args = (7,)
    record.event, record.issue_id = "batch", 7
    try:
        raise ValueError("broken «relay»")
    except ValueError:
        record.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(record))
    assert entry["message"] == "Issue 7" and entry["level"] == "ERROR"
    assert (entry["event"], entry["issue_id"]) == ("batch", 7)
    assert "ValueError: broken «relay»" in entry["exception"]
    assert "\n" not in JsonFormatter().format(record), "one line per event"


def test_an_unknown_log_format_stops_the_start():
    with pytest.raises(ConfigError, match="LOG_FORMAT"):
        from_environment({"LOG_FORMAT": "xml"})
