"""The import's chunks on PostgreSQL: ``COPY`` into a staging table, then set-based SQL.

A chunk of checked rows is copied into a temporary table in one round trip; a handful of
statements then mark what the database rules out, insert the new people, update the known
ones and add their lists and consent records, each for the whole chunk at once. The rules
are the ones ``writing`` applies row by row on SQLite.
"""

from datetime import datetime

from sqlalchemy import text

from ..extensions import db
from ..models import ConsentAction, SubscriberStatus, email_hash, new_token
from .analysis import LEFT
from .checks import Row

CHUNK_SIZE = 10_000
"""Rows per transaction: a COPY round trip and the statements cost the same for 1 or 10,000."""

# Dropped at the end of the session's connection; emptied at each commit.
CREATE_STAGING = text(
    """
    CREATE TEMPORARY TABLE IF NOT EXISTS import_staging (
        email text PRIMARY KEY,
        email_hash text NOT NULL,
        name text,
        language text NOT NULL,
        second_language text,
        list_ids integer[] NOT NULL,
        token text NOT NULL,
        subscriber_id integer,
        outcome text
    ) ON COMMIT DELETE ROWS
    """
)
COPY_STAGING = (
    "COPY import_staging (email, email_hash, name, language, second_language, list_ids, token) "
    "FROM STDIN"
)
SUPPRESSED = text(
    """
    UPDATE import_staging AS s SET outcome = 'suppressed'
    FROM suppression AS p WHERE p.email_hash = s.email_hash
    """
)
LEFT_STATUSES = ", ".join(f"'{status.value}'" for status in LEFT)
CONFIRMED = f"'{SubscriberStatus.CONFIRMED.value}'"
MATCH_EXISTING = text(
    f"""
    UPDATE import_staging AS s
    SET subscriber_id = b.id,
        outcome = CASE WHEN b.status IN ({LEFT_STATUSES}) THEN b.status ELSE 'update' END
    FROM subscriber AS b
    WHERE b.email = s.email AND s.outcome IS NULL
    """
)
INSERT_NEW = text(
    f"""
    WITH created AS (
        INSERT INTO subscriber (email, name, language, second_language, status, token,
                                confirmed_at, created_at, updated_at)
        SELECT email, name, language, second_language, {CONFIRMED}, token, :now, :now, :now
        FROM import_staging WHERE outcome IS NULL
        ON CONFLICT (email) DO NOTHING
        RETURNING id, email
    )
    UPDATE import_staging AS s SET subscriber_id = c.id, outcome = 'new'
    FROM created AS c WHERE c.email = s.email
    """
)
# Pending people become confirmed; a missing name is filled; nobody's languages change.
UPDATE_KNOWN = text(
    f"""
    UPDATE subscriber AS b
    SET name = COALESCE(NULLIF(b.name, ''), s.name),
        status = {CONFIRMED},
        unsubscribed_at = NULL,
        confirmed_at = CASE WHEN b.status <> {CONFIRMED} THEN COALESCE(b.confirmed_at, :now)
                            ELSE b.confirmed_at END,
        updated_at = :now
    FROM import_staging AS s
    WHERE s.outcome = 'update' AND b.id = s.subscriber_id
    """
)
# Lists are added, never taken away, by an import. New people have none yet, so only the
# known ones need the (slower) conflict check.
ADD_SUBSCRIPTIONS = text(
    """
    INSERT INTO subscription (subscriber_id, list_id, created_at)
    SELECT subscriber_id, unnest(list_ids), :now FROM import_staging WHERE outcome = 'new'
    """
)
ADD_KNOWN_SUBSCRIPTIONS = text(
    """
    INSERT INTO subscription (subscriber_id, list_id, created_at)
    SELECT subscriber_id, unnest(list_ids), :now FROM import_staging WHERE outcome = 'update'
    ON CONFLICT DO NOTHING
    """
)
RECORD_CONSENT = text(
    """
    INSERT INTO consent (subscriber_id, action, created_at, ip, user_agent, source, list_ids,
                         wording_version, language)
    SELECT subscriber_id, :action, :now, NULL, NULL, :source, to_json(list_ids),
           :wording, language
    FROM import_staging WHERE outcome IN ('new', 'update')
    """
)
OUTCOMES = text("SELECT outcome, count(*) FROM import_staging GROUP BY outcome")


def _copy(rows: list[Row]) -> None:
    """The chunk's checked rows into the staging table, in one COPY."""
    connection = db.session.connection()
    connection.execute(CREATE_STAGING)
    cursor = connection.connection.driver_connection.cursor()
    with cursor.copy(COPY_STAGING) as copy:
        for row in rows:
            copy.write_row(
                (
                    row.email,
                    email_hash(row.email),
                    row.name,
                    row.language,
                    row.second_language,
                    sorted(row.list_ids),
                    new_token(),
                )
            )


def write_chunk(rows: list[Row], source: str, wording: str, now: datetime) -> tuple[int, int]:
    """Import the chunk's checked rows in the session's transaction; (created, updated).

    Someone who subscribes meanwhile is not inserted twice: ``ON CONFLICT`` leaves their
    row alone, and the second look-up treats it as one already known.
    """
    _copy(rows)
    execute = db.session.execute
    execute(SUPPRESSED)
    execute(MATCH_EXISTING)
    execute(INSERT_NEW, {"now": now})
    execute(MATCH_EXISTING)
    execute(UPDATE_KNOWN, {"now": now})
    execute(ADD_SUBSCRIPTIONS, {"now": now})
    execute(ADD_KNOWN_SUBSCRIPTIONS, {"now": now})
    consent = {"action": ConsentAction.SUBSCRIBE.value, "source": source, "wording": wording}
    execute(RECORD_CONSENT, consent | {"now": now})
    outcomes = dict(execute(OUTCOMES).all())
    return outcomes.get("new", 0), outcomes.get("update", 0)
