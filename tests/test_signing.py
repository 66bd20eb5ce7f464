"""DKIM signatures as a receiving server checks them: dkimpy's verifier, with the public key
served by a stubbed DNS lookup."""

import base64

import dkim
import pytest
from campaign_helpers import configured, make_audience, make_issue, send_all, start
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given, settings
from hypothesis import strategies as st

from newsletter.mail.signing import dkim_signature, relaxed_body

MESSAGE = (
    b"From: Our Network <news@example.org>\r\n"
    b"To: ana@example.org\r\n"
    b"Subject: =?utf-8?q?Caf=C3=A9_con_la?=\r\n =?utf-8?q?_asamblea?=\r\n"
    b"Date: Thu, 03 Dec 2026 07:00:00 +0000\r\n"
    b"Message-ID: <1.2@example.org>\r\n"
    b"MIME-Version: 1.0\r\n"
    b'Content-Type: text/plain; charset="utf-8"\r\n'
    b"List-Unsubscribe: <https://example.org/u/x>\r\n"
    b"List-Unsubscribe-Post: List-Unsubscribe=One-Click\r\n"
    b"\r\n"
    b"Hello  \t world \r\n\r\nSee you.\r\n\r\n\r\n"
)


def write_key(folder, name, key) -> str:
    path = folder / f"{name}.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return str(path)


def dns_record(key) -> bytes:
    public = key.public_key()
    if isinstance(public, ed25519.Ed25519PublicKey):
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return b"v=DKIM1; k=ed25519; p=" + base64.b64encode(raw)
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    folder = tmp_path_factory.mktemp("dkim")
    made = {
        "rsa2026": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "rsa2027": rsa.generate_private_key(public_exponent=65537, key_size=2048),
        "ed2026": ed25519.Ed25519PrivateKey.generate(),
    }
    records = {
        f"{name}._domainkey.example.org.".encode(): dns_record(key) for name, key in made.items()
    }
    files = {name: write_key(folder, name, key) for name, key in made.items()}

    def dns(name, timeout=5):
        return records.get(name)

    return files, dns


@pytest.mark.parametrize("selector", ["rsa2026", "ed2026"])
def test_a_signed_message_verifies_and_a_changed_one_does_not(keys, selector):
    files, dns = keys
    signed = dkim_signature(MESSAGE, selector, "example.org", files[selector]) + MESSAGE
    assert dkim.verify(signed, dnsfunc=dns)
    algorithm = "rsa-sha256" if selector.startswith("rsa") else "ed25519-sha256"
    assert f"a={algorithm}".encode() in signed.split(b"\r\n\r\n")[0]
    for before, after in [
        (b"See you.", b"See you!"),
        (b"List-Unsubscribe: <https://example.org/u/x>", b"List-Unsubscribe: <https://evil/>"),
        (b"To: ana@example.org", b"To: ben@example.org"),
    ]:
        assert not dkim.verify(signed.replace(before, after), dnsfunc=dns), after


def test_what_relaxed_canonicalization_allows_still_verifies(keys):
    """Servers on the way may refold headers and change spaces at line ends."""
    files, dns = keys
    signed = dkim_signature(MESSAGE, "rsa2026", "example.org", files["rsa2026"]) + MESSAGE
    relayed = signed.replace(b"Subject: =?utf-8", b"Subject:   =?utf-8").replace(
        b"See you.\r\n", b"See you.  \r\n"
    )
    assert dkim.verify(relayed + b"\r\n\r\n", dnsfunc=dns)


def test_a_new_selector_verifies_with_its_own_record_only(keys):
    """Key rotation: publish the new selector's record, then switch DKIM_SELECTOR and
    DKIM_KEY_FILE; mail signed with the old key still verifies while its record stays."""
    files, dns = keys
    old = dkim_signature(MESSAGE, "rsa2026", "example.org", files["rsa2026"]) + MESSAGE
    new = dkim_signature(MESSAGE, "rsa2027", "example.org", files["rsa2027"]) + MESSAGE
    assert dkim.verify(old, dnsfunc=dns) and dkim.verify(new, dnsfunc=dns)
    # The new key under the old selector's name: the record there does not match it.
    wrong = dkim_signature(MESSAGE, "rsa2026", "example.org", files["rsa2027"]) + MESSAGE
    assert not dkim.verify(wrong, dnsfunc=dns)


def test_a_key_that_is_neither_rsa_nor_ed25519_is_refused(tmp_path):
    path = write_key(tmp_path, "ec", ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(ValueError, match="RSA or Ed25519"):
        dkim_signature(MESSAGE, "ec", "example.org", path)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.text(alphabet=" \tabcé=-", max_size=30).map(lambda s: s.encode()), max_size=8),
    st.integers(min_value=0, max_value=3),
)
def test_any_body_of_ours_verifies(keys, lines, empty_lines_at_the_end):
    files, dns = keys
    body = b"\r\n".join(lines) + b"\r\n" * (1 + empty_lines_at_the_end)
    head = MESSAGE.partition(b"\r\n\r\n")[0]
    message = head + b"\r\n\r\n" + body
    signed = dkim_signature(message, "ed2026", "example.org", files["ed2026"]) + message
    assert dkim.verify(signed, dnsfunc=dns)


def test_relaxed_body_follows_the_rfc_examples():
    assert relaxed_body(b"") == b""
    assert relaxed_body(b"\r\n\r\n") == b""
    assert relaxed_body(b" C \r\nD \t E\r\n\r\n\r\n") == b" C\r\nD E\r\n"


def test_every_delivered_message_is_signed_with_the_configured_key(app, in_app, smtp, keys):
    files, dns = keys
    audience = in_app(make_audience, per_language=1)
    issue_id = in_app(make_issue, [audience["lists"]["newsletter"]])
    with configured(
        app, DKIM_SELECTOR="ed2026", DKIM_KEY_FILE=files["ed2026"], DKIM_DOMAIN="example.org"
    ):
        in_app(start, issue_id)
        in_app(send_all, issue_id)
    received = smtp.settle()
    assert len(received) == 5  # a reader in each of en, es, fr, de and it
    for item in received:
        assert dkim.verify(item.data, dnsfunc=dns)
        assert "a=ed25519-sha256" in item.message["DKIM-Signature"]
