"""Twisted's Content-Type parsing with the cache patch (realtime/tuning/content_type.py)."""

import pytest
from twisted.web import http

from realtime.tuning import install, speedups_enabled
from realtime.tuning.content_type import PATCH

pytestmark = pytest.mark.skipif(
    not speedups_enabled(), reason="NOTES_SPEEDUPS is off: speed patches are left out by design"
)


def test_a_content_type_is_parsed_once_per_value_with_the_stock_answer():
    install()
    assert PATCH.in_effect(), f"verified on {dict(PATCH.verified)}, installed {PATCH.installed()}"
    parse = http._parseContentType
    parse.cache_clear()
    first = parse(b"application/octet-stream")
    assert parse(b"application/octet-stream") == first
    assert parse.cache_info().hits == 1
    # A form is still told apart from anything else.
    assert parse(b"multipart/form-data; boundary=x") != first
    assert parse.__wrapped__(b"application/octet-stream") == first
