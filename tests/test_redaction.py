"""Secrets are masked in repr/str, removed from text and logs, and headers are redacted by name."""

from __future__ import annotations

import base64
import html
import json
import logging
import os
import pickle
import re
from collections.abc import Callable
from urllib.parse import quote, quote_plus
from xml.sax.saxutils import escape as xml_escape

import pytest

from iflowtest import redaction
from iflowtest.redaction import (
    MASK,
    RedactingFilter,
    Redactor,
    Secret,
    install_log_redaction,
    mask_id,
    redact_headers,
    redact_text,
    register_secret,
)


def test_secret_masks_itself() -> None:
    secret = Secret("s3cr3t-value-for-redaction")
    assert repr(secret) == "Secret('***')"
    assert str(secret) == f"{secret}" == f"{secret:>30}" == MASK
    assert secret.reveal() == "s3cr3t-value-for-redaction"
    assert Secret(secret) == secret


def test_secret_refuses_pickling() -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(Secret("another-secret-value"))


def test_known_secrets_bearer_and_jwt_are_removed_from_text() -> None:
    Secret("known-secret-0001")
    text = (
        "error: known-secret-0001 rejected; Authorization: Bearer abc.def-ghi_jkl "
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
    )
    cleaned = redact_text(text)
    assert "known-secret-0001" not in cleaned
    assert "abc.def-ghi_jkl" not in cleaned
    assert "eyJhbGciOiJIUzI1NiJ9" not in cleaned
    assert cleaned.startswith("error: *** rejected; Authorization: Bearer ***")


def test_headers_are_redacted_by_name_keeping_csrf_protocol_words() -> None:
    headers = {
        "Authorization": "Basic Zm9vOmJhcg==",
        "Cookie": "JSESSIONID=abc",
        "X-CSRF-Token": "Fetch",
        "x-csrf-token": "a1b2c3d4e5",
        "Content-Type": "application/json",
    }
    assert redact_headers(headers) == {
        "Authorization": MASK,
        "Cookie": MASK,
        "X-CSRF-Token": "Fetch",
        "x-csrf-token": MASK,
        "Content-Type": "application/json",
    }


def test_log_filter_scrubs_messages(caplog: pytest.LogCaptureFixture) -> None:
    Secret("logged-secret-42")
    logger = logging.getLogger("iflowtest.test")
    caplog.handler.addFilter(RedactingFilter())
    with caplog.at_level(logging.INFO, logger="iflowtest.test"):
        logger.info("calling with %s", "logged-secret-42")
    assert "logged-secret-42" not in caplog.text
    assert "calling with ***" in caplog.text


def test_mask_id_keeps_head_and_tail() -> None:
    assert mask_id("sb-3f0c2d7e-1a2b!b123456|it-rt-acme!b196") == "sb-3f0…b196"
    assert mask_id("short") == "sh…"


def test_token_fields_are_masked_in_json_and_forms() -> None:
    text = '{"access_token":"abc.def.ghi","token_type":"bearer","refresh_token": "r-123"} client_secret=xyz&a=1'
    assert (
        Redactor().redact(text)  # its own: a test before may have registered any value in the process's
        == '{"access_token":"***","token_type":"bearer","refresh_token": "***"} client_secret=***&a=1'
    )


def test_a_known_value_inside_a_field_name_does_not_hide_the_field() -> None:
    redactor = Redactor()
    redactor.register("secret")  # a password "secret" (of a Basic header) was seen
    assert redactor.redact("client_secret=xyz&a=1") == "client_***=***&a=1"


def test_record_factory_scrubs_records_of_every_logger(caplog: pytest.LogCaptureFixture) -> None:
    before = logging.getLogRecordFactory()
    undo = install_log_redaction()
    try:
        with caplog.at_level(logging.DEBUG):
            logging.getLogger("requests_oauthlib.oauth2_session").debug(
                "Request headers were %s", {"Authorization": "Basic c2VjcmV0OnNlY3JldA=="}
            )
    finally:
        undo()
    assert "c2VjcmV0OnNlY3JldA==" not in caplog.text
    assert "'Authorization': 'Basic ***'" in caplog.text
    assert logging.getLogRecordFactory() is before


def test_the_longest_known_secret_is_removed_whole_and_the_newest_first() -> None:
    redactor = Redactor()
    redactor.register("inner-secret")
    redactor.register("outer-inner-secret-tail")  # contains the first: removed whole, not as "outer-***-tail"
    text = "a outer-inner-secret-tail b inner-secret c inner-secre"
    assert redactor.redact(text) == "a *** b *** c inner-secre"
    assert redactor.contains_known("x inner-secret y")
    assert not redactor.contains_known("x inner-secre y")


def test_every_form_of_a_secret_is_found_in_any_text() -> None:
    redactor = Redactor()
    value = "s3cr3t/with+signs=ä"
    redactor.register(value)
    forms = [value, quote(value, safe=""), quote_plus(value), base64.b64encode(value.encode()).decode()]
    for form in forms:
        assert redactor.redact(f"ünïcode before {form} after") == "ünïcode before *** after", form
    # Inside a longer base64 text (a Basic header of "user:secret"), at each of the three alignments.
    for prefix in ("u:", "us:", "usr:"):
        encoded = base64.b64encode((prefix + value).encode()).decode()
        assert MASK in redactor.redact(encoded), prefix


def test_placeholders_stay_when_known_values_are_replaced() -> None:
    redactor = Redactor()
    redactor.register("{access_token}")  # a replayed run wraps its placeholders in Secrets
    redactor.register("real-secret-value")
    assert redactor.replace_known("{access_token} real-secret-value", "{secret}") == "{access_token} {secret}"


def test_secrets_are_indexed_when_registered_not_when_text_is_redacted(monkeypatch: pytest.MonkeyPatch) -> None:
    redactor = Redactor()
    for n in range(40):  # several batches, merged as they come
        redactor.register(f"secret-number-{n:04d}")

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("the redactor built an index while redacting")

    monkeypatch.setattr(redaction, "BytesAhoCorasick", refuse)
    assert redactor.redact("secret-number-0007 and secret-number-0039") == "*** and ***"


def test_case_insensitive_patterns_still_apply_in_any_case() -> None:
    text = "BEARER abcdefghijk, bAsIc QWxhZGRpbjpvcGVu, CLIENT_SECRET=xyz, Access_Token: tok-123"
    assert redact_text(text) == "BEARER ***, bAsIc ***, CLIENT_SECRET=***, Access_Token: ***"
    long_s = "\u017f"  # what `(?i)` matches as an "s"
    assert redact_text(f"client_{long_s}ecret=xyz") == f"client_{long_s}ecret=***"


def test_text_with_lone_surrogates_is_redacted() -> None:
    # Output decoded with surrogateescape holds lone surrogates, which UTF-8 refuses.
    redactor = Redactor()
    redactor.register("plain-secret-value")
    text = "a \udcfe plain-secret-value \udcfe"
    assert redactor.redact(text) == "a \udcfe *** \udcfe"
    assert redactor.contains_known("\udcffplain-secret-value") and not redactor.contains_known("\udcfe")


def test_a_secret_holding_lone_surrogates_is_registered_and_masked_in_every_form() -> None:
    # A secret read from the environment or a file with surrogateescape: bytes that are not UTF-8.
    secret = "pw-\udce9t\udce9-secret"
    original = secret.encode("utf-8", "surrogateescape")  # b"pw-\xe9t\xe9-secret", as sent
    redactor = Redactor()

    redactor.register(secret)

    assert redactor.redact(f"x {secret} y") == "x *** y"
    assert redactor.redact(f"q={quote(original)}") == "q=***"
    assert redactor.redact(f"b={base64.b64encode(original).decode()}") == "b=***"
    assert redactor.redact(repr(original)) == "b'***'"
    assert redactor.redact_bytes(b"<" + original + b">") == b"<***>"


SPECIAL = "hö&<s>\"'\\ x+y/z=%2F$"


@pytest.mark.parametrize(
    "show",
    [
        str,
        repr,
        ascii,
        lambda v: json.dumps(v),
        lambda v: json.dumps(v, ensure_ascii=False),
        lambda v: json.dumps({"secret": v}),
        html.escape,
        lambda v: html.escape(v, quote=False),
        lambda v: xml_escape(v, {'"': "&quot;", "'": "&apos;"}),
        lambda v: quote(v, safe=""),
        quote,
        quote_plus,
        lambda v: repr(v.encode()),
        lambda v: f"{[v]!r}",
    ],
    ids=[
        "str",
        "repr",
        "ascii",
        "json",
        "json-utf8",
        "json-object",
        "html",
        "html-text",
        "xml",
        "url",
        "url-path",
        "url-plus",
        "bytes-repr",
        "list-repr",
    ],
)
def test_a_secret_of_special_characters_is_masked_however_a_test_shows_it(show: Callable[[str], str]) -> None:
    secret = SPECIAL + os.urandom(8).hex()
    register_secret(secret)
    text = f"before {show(secret)} after"
    assert redact_text(text).startswith("before ") and secret[-16:] not in redact_text(text), redact_text(text)
    assert MASK in redact_text(text)


def test_the_ends_of_a_secret_cut_in_its_middle_are_masked() -> None:
    secret = "cut-" + os.urandom(60).hex()
    register_secret(secret)
    # pytest's assertion repr keeps the start and end of a long value around "..."; so do our excerpts with "…".
    for shown in (f"assert '{secret[:50]}...{secret[-50:]}' == 'x'", f"[{secret[:30]}…]", f"…{secret[-20:]} end"):
        redacted = redact_text(shown)
        assert secret[:10] not in redacted and secret[-10:] not in redacted, redacted
    assert redact_text("expected ... got something") == "expected ... got something"  # ordinary text stays
    assert redact_text(f"a {secret[:7]}... b") == f"a {secret[:7]}... b"  # too short a piece to be told apart


def test_url_passwords_and_password_or_api_key_fields_are_masked_whoever_wrote_them() -> None:
    text = "GET https://user:pw-never-registered@host.example/x?password=hunter22&apikey=abc123&name=apikeys"
    assert redact_text(text) == f"GET https://user:{MASK}@host.example/x?password={MASK}&apikey={MASK}&name=apikeys"
    body = '{"password": "hunter2x", "api_key": "k", "passwordPolicy": "strong"}'
    assert redact_text(body) == f'{{"password": "{MASK}", "api_key": "{MASK}", "passwordPolicy": "strong"}}'


def test_every_token_field_name_holds_a_word_the_redactor_looks_for_first() -> None:
    # redact() runs the field pattern only on text holding one of these words; a field added to the pattern
    # without one would never be masked.
    names = re.search(r"\(\?:([^)]*)\)", redaction._TOKEN_FIELDS.pattern)
    assert names is not None
    fresh = Redactor()  # none of the process's secrets (an earlier test may have registered "SECRET")
    for name in names[1].split("|"):
        assert any(word in name for word in redaction._TOKEN_FIELD_WORDS), name
        for spelt in (name.replace("_?", ""), name.replace("_?", "").upper()):
            assert fresh.redact(f"{spelt}=v4lue-x") == f"{spelt}={MASK}", spelt  # the check spells the words out
    assert not any("i" in word for word in redaction._TOKEN_FIELD_WORDS)  # casefold() keeps a dotless i


def test_batches_become_one_once_registrations_are_quiet_and_mask_as_before() -> None:
    redactor = Redactor()
    redactor.register("inner-secret")
    for n in range(6):
        redactor.register(f"secret-number-{n:04d}")
    redactor.register("outer-inner-secret-tail")  # the newest contains the first
    assert len(redactor._batches) > 1
    text = "a outer-inner-secret-tail b inner-secret c secret-number-0003 d inner-secre"
    expected = "a *** b *** c *** d inner-secre"
    for n in range(redactor._merge_after + 1):  # texts of their own: a text seen before is not searched again
        assert redactor.redact(f"{text} {n}") == f"{expected} {n}"
    assert len(redactor._batches) == 1
    assert redactor.redact(text) == expected
    redactor.register("registered-after-the-merge")  # a new secret still counts at once
    assert redactor.redact("x registered-after-the-merge y outer-inner-secret-tail") == "x *** y ***"


def test_texts_shorter_than_any_secret_pass_unchanged_and_a_six_character_secret_is_masked() -> None:
    redactor = Redactor()
    redactor.register("abc123")
    assert redactor.redact("abc12") == "abc12"
    assert redactor.redact("abc123") == MASK
    assert redactor.redact("x://u:p@h") == f"x://u:{MASK}@h"  # a URL password in a short text


def test_a_text_redacted_before_a_secret_was_registered_is_redacted_again_after() -> None:
    redactor = Redactor()
    text = "GET https://host.example/x?code=later-secret-1 -> 200"
    assert redactor.redact(text) == text
    redactor.register("later-secret-1")
    assert redactor.redact(text) == "GET https://host.example/x?code=*** -> 200"
    long_text = "x" * 600 + " later-secret-1"  # longer than what the redactor remembers: redacted each time
    assert redactor.redact(long_text) == "x" * 600 + " ***"


def test_secret_headers_are_remembered_from_requests_case_insensitive_headers_and_plain_ones() -> None:
    from requests.structures import CaseInsensitiveDict

    redaction.remember_header_secrets(
        CaseInsensitiveDict({"AUTHORIZATION": "Bearer ci-dict-token-1", "Set-Cookie": "JSESSIONID=ci-cookie-1; Path=/"})
    )
    redaction.remember_header_secrets([("x-csrf-token", "tuple-csrf-1"), ("X-CSRF-Token", "Fetch")])
    text = "ci-dict-token-1 ci-cookie-1 tuple-csrf-1 Fetch"
    assert redact_text(text) == "*** *** *** Fetch"
