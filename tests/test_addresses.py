"""One rule for every address we store: subscribers' and editors' alike."""

import pytest

from newsletter.accounts import AccountError, create_user
from newsletter.subscriptions import InvalidEmail, normalize_email


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        (" Ana@Example.ORG ", "ana@example.org"),
        ("jürgen@bücher.example.org", None),  # our mail can't reach a non-ASCII local part
        ("ana@bücher.example.org", "ana@bücher.example.org"),
        ("a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".org", None),
        ("not an address", None),
    ],
)
def test_accounts_and_subscribers_accept_the_same_addresses(app, raw, expected):
    with app.app_context():
        if expected is None:
            with pytest.raises(InvalidEmail):
                normalize_email(raw)
            with pytest.raises(AccountError, match="valid email address"):
                create_user(raw, "a long enough password")
        else:
            assert normalize_email(raw) == expected
            assert create_user(raw, "a long enough password").email == expected
