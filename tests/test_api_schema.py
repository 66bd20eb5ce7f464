"""Property-based run of the token API against its own OpenAPI document (schemathesis).

Cases come from ``/api/v1/openapi.json`` as served, go through the Flask app with a write
token, and must never answer 5xx nor anything the document does not describe. Sending an
issue and test sends are left out (they mail people; test_api_v1.py covers them).

Hypothesis drives each operation directly: schemathesis's pytest loader
(``schemathesis.pytest.from_fixture``) fails under pytest 9 (it reads ``Node._nodeid``).
"""

from datetime import datetime, timedelta

import pytest
import schemathesis
from campaign_helpers import make_issue
from factories import make_lists, make_subscriber
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance
from test_api_v1 import make_token

from newsletter import events
from newsletter.extensions import db

EXAMPLES_PER_OPERATION = 15
MAILING_OPERATIONS = r"/(send|test)$"


def seed_rows() -> str:
    """A few rows for the generated ids to meet, and the token the cases use."""
    lists = make_lists()
    make_subscriber("reader@example.org", "es", list_ids=(lists["newsletter"],))
    make_issue([lists["newsletter"]], ("en", "es"))
    start = datetime(2030, 5, 8, 8, 0)
    events.save_event(
        None,
        events.EventTimes(start, start + timedelta(hours=2), "Europe/Paris"),
        {"en": {"title": "Seminar"}, "es": {"title": "Seminario", "place_name": "Sala"}},
        published=True,
    )
    db.session.commit()
    return make_token("write")


def check_operation(operation, mode: GenerationMode, headers: dict) -> None:
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        derandomize=True,  # the same cases on every run
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case) -> None:
        case.call_and_validate(
            headers=headers, checks=[not_a_server_error, response_schema_conformance]
        )

    run()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_conforms_to_its_document(app, in_app, mode):
    headers = {"Authorization": f"Bearer {in_app(seed_rows)}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [
        result.ok() for result in schema.exclude(path_regex=MAILING_OPERATIONS).get_all_operations()
    ]
    assert len(operations) == 46  # every operation but the two that mail
    for operation in operations:
        try:
            check_operation(operation, mode, headers)
        except Exception as error:
            error.add_note(f"operation: {operation.label} ({mode.value})")
            raise
