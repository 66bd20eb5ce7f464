"""Log lines: one per event, JSON when ``LOG_FORMAT=json``.

Events name issues, batches and subscribers by id; an address never goes into a line at
INFO. The fields a call passes in ``extra`` (``event``, ``issue_id``, ``batch_size``,
``outcome``, …) become keys of the JSON object.
"""

import json
import logging
from datetime import UTC, datetime

from flask import Flask

# What every LogRecord has; anything else on a record came from ``extra``.
STANDARD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}

log = logging.getLogger("newsletter")


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(
            (key, value) for key, value in vars(record).items() if key not in STANDARD_ATTRIBUTES
        )
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def init_app(app: Flask) -> None:
    """With ``LOG_FORMAT=json``, every line of the process at INFO and above (ours, the
    libraries', Celery's) as one JSON object on stderr."""
    if app.config["LOG_FORMAT"] != "json":
        return  # Flask's handler, or Celery's in a worker, prints them as text
    root = logging.getLogger()
    for existing in [h for h in root.handlers if getattr(h, "newsletter_json", False)]:
        root.removeHandler(existing)  # a second app in the same process replaces the first
    handler = logging.StreamHandler()
    handler.setFormatter(JsonFormatter())
    handler.newsletter_json = True
    root.addHandler(handler)
    root.setLevel(logging.INFO)
