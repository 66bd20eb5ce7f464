"""``flask users``: accounts for the editors' UI, including the first admin."""

import click
from flask import Flask

from .. import accounts, two_factor
from ..extensions import db
from ..models import Role, User


def register_user_commands(app: Flask) -> None:
    @app.cli.group()
    def users() -> None:
        """Create and list the accounts of admins, editors and translators."""

    @users.command("create")
    @click.argument("email")
    @click.option("--role", type=click.Choice([r.value for r in Role]), default=Role.ADMIN.value)
    @click.option("--name", default="")
    @click.option("--language", type=click.Choice(app.config["LANGUAGES"]), default="en")
    @click.option(
        "--translates",
        multiple=True,
        type=click.Choice(app.config["LANGUAGES"]),
        help="A language a translator writes (repeat for several).",
    )
    @click.password_option(help="Asked for when not given.")
    def create(
        email: str, role: str, name: str, language: str, translates: tuple, password: str
    ) -> None:
        """Create an account (an admin unless --role editor or translator)."""
        try:
            user = accounts.create_user(
                email,
                password,
                Role(role),
                name=name,
                language=language,
                translation_languages=list(translates),
            )
        except accounts.AccountError as error:
            db.session.rollback()
            raise click.ClickException(str(error)) from None
        db.session.commit()
        click.echo(f"Created {user.role.value} {user.email} (id {user.id}).")

    @users.command("list")
    def list_users() -> None:
        """Every account with its role and whether it may log in."""
        for user in db.session.execute(db.select(User).order_by(User.id)).scalars():
            state = "active" if user.active else "disabled"
            second = "2fa" if user.has_two_factor else "-"
            languages = ",".join(user.translation_languages or [])
            click.echo(
                f"{user.id:>4}  {user.email:40} {user.role.value:10} {state:8} {second:4}"
                f" {languages}".rstrip()
            )

    @users.command("reset-2fa")
    @click.argument("email")
    def reset_two_factor(email: str) -> None:
        """Turn off two-factor sign-in of an account (lost phone) and end its sessions."""
        user = db.session.execute(
            db.select(User).where(User.email == email.strip().lower())
        ).scalar_one_or_none()
        if user is None:
            raise click.ClickException(f"No account with the address {email}.")
        two_factor.reset(user)
        db.session.commit()
        click.echo(
            f"Two-factor sign-in is off for {user.email} and their sessions are ended; "
            "they can log in with their password and set it up again."
        )
