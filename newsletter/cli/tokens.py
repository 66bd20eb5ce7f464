"""``flask tokens``: create, list and revoke the keys of the JSON API."""

import click
from flask import Flask

from .. import accounts
from ..extensions import db
from ..models import ApiToken, TokenScope


def register_token_commands(app: Flask) -> None:
    @app.cli.group()
    def tokens() -> None:
        """Create, list and revoke API tokens."""

    @tokens.command("create")
    @click.argument("name")
    @click.option(
        "--scope",
        type=click.Choice([s.value for s in TokenScope]),
        default=TokenScope.READ.value,
        help="read: GET only; write: everything.",
    )
    def create(name: str, scope: str) -> None:
        """Create a token and print its secret, which is shown this once only."""
        if not name.strip() or not name.isprintable():
            raise click.ClickException("The name must be one line of text.")
        token, secret = accounts.create_token(name, TokenScope(scope))
        db.session.commit()
        click.echo(f"Created {scope} token {token.id} “{token.name}”. Its secret, shown once:")
        click.echo(secret)

    @tokens.command("list")
    def list_tokens() -> None:
        """Every token: id, prefix, scope, last use and whether it is revoked."""
        for token in db.session.execute(db.select(ApiToken).order_by(ApiToken.id)).scalars():
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never"
            state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
            click.echo(
                f"{token.id:>4}  {token.prefix}…  {token.scope.value:5}  "
                f"used {used:16}  {state:18}  {token.name}"
            )

    @tokens.command("revoke")
    @click.argument("token_id", type=click.IntRange(1, 2**31 - 1))
    def revoke(token_id: int) -> None:
        """Revoke a token: it stops working at once."""
        token = db.session.get(ApiToken, token_id)
        if token is None:
            raise click.ClickException(f"There is no token {token_id}.")
        accounts.revoke_token(token)
        db.session.commit()
        click.echo(f"Token {token_id} “{token.name}” is revoked.")
