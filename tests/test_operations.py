"""What load balancers and orchestrators ask: is the process alive, are its dependencies up."""

import copy
from contextlib import contextmanager

from smtp import free_port

from newsletter import create_app
from newsletter.config import from_environment


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
