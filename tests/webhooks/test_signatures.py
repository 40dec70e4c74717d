"""Signature schemes, computed for real, including the documented check value."""
from __future__ import annotations

import time

import pytest

from itsm_align.webhooks.signatures import (SignatureError, jira_signature, servicenow_signature, verify_jira,
                                            verify_servicenow)

BODY = b'{"webhookEvent":"jira:issue_updated"}'


def test_servicenow_scheme_matches_the_documented_check_value() -> None:
    # CertificateEncryption.generateMac(base64("sample_key"), "HmacSHA256", "sample_data")
    import base64
    import hashlib
    import hmac

    mac = base64.b64encode(hmac.new(b"sample_key", b"sample_data", hashlib.sha256).digest()).decode()
    assert mac == "4VWUI48lJvmGSF6MYmOVWA9c0hfu55Ur+3e+fUFFFr4="
    # our helper prepends "<ts>." to the body: same MAC as computing it by hand
    assert servicenow_signature("sample_key", "12", b"x") == base64.b64encode(
        hmac.new(b"sample_key", b"12.x", hashlib.sha256).digest()).decode()


def test_jira_valid_signature_passes() -> None:
    verify_jira("s3cret", BODY, jira_signature("s3cret", BODY))


@pytest.mark.parametrize("header,reason", [
    (None, "missing"), ("", "missing"), ("sha1=abcd", "malformed"), ("sha256=zz", "malformed"),
    ("sha256=" + "0" * 64, "mismatch"),
])
def test_jira_bad_signatures_raise_one_error_type(header: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_jira("s3cret", BODY, header)
    assert caught.value.reason == reason


def test_jira_signature_over_other_body_or_secret_fails() -> None:
    with pytest.raises(SignatureError):
        verify_jira("s3cret", BODY + b" ", jira_signature("s3cret", BODY))
    with pytest.raises(SignatureError):
        verify_jira("other", BODY, jira_signature("s3cret", BODY))


def test_servicenow_valid_and_stale() -> None:
    now = int(time.time())
    assert verify_servicenow("k", BODY, str(now), servicenow_signature("k", str(now), BODY)) == now
    old = str(now - 301)
    with pytest.raises(SignatureError) as caught:
        verify_servicenow("k", BODY, old, servicenow_signature("k", old, BODY))
    assert caught.value.reason == "stale"
    future = str(now + 301)
    with pytest.raises(SignatureError) as caught:
        verify_servicenow("k", BODY, future, servicenow_signature("k", future, BODY))
    assert caught.value.reason == "stale"


@pytest.mark.parametrize("ts,sig,reason", [
    ("1", None, "missing"), (None, "abc=", "missing"), ("soon", "abc=", "malformed"), ("1", "***", "malformed"),
])
def test_servicenow_malformed_headers(ts: str | None, sig: str | None, reason: str) -> None:
    with pytest.raises(SignatureError) as caught:
        verify_servicenow("k", BODY, ts, sig)
    assert caught.value.reason == reason


def test_servicenow_timestamp_is_signed() -> None:
    now = str(int(time.time()))
    with pytest.raises(SignatureError) as caught:
        verify_servicenow("k", BODY, now, servicenow_signature("k", str(int(now) - 1), BODY))
    assert caught.value.reason == "mismatch"
    assert isinstance(caught.value.__cause__, type(None))


@pytest.mark.parametrize("size", [0, 1, 2046, 2047, 2048, 4095, 25_000])
def test_the_piecewise_hmac_equals_the_one_shot_hmac(size: int) -> None:
    import hashlib
    import hmac as stdlib_hmac

    from itsm_align.webhooks.signatures import hmac_sha256

    data = bytes(range(256)) * (size // 256 + 1)
    data = data[:size]
    assert hmac_sha256(b"key", data) == stdlib_hmac.new(b"key", data, hashlib.sha256).digest()
