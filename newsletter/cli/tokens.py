"""``flask tokens``: API tokens (placeholder)."""

from flask import Flask


def register_token_commands(app: Flask) -> None:
    pass
