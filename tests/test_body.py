"""Reading a bounded request body, and draining what a refused request sent."""

import io

import pytest

from formmail.body import DRAIN_LIMIT, content_length, drain, read_body
from formmail.errors import LengthRequired, MalformedBody, PayloadTooLarge


def env(data=b"", length=None, terminated=False):
    e = {"wsgi.input": io.BytesIO(data), "CONTENT_LENGTH": "" if length is None else str(length)}
    if terminated:
        e["wsgi.input_terminated"] = True
    return e


def test_reads_exactly_content_length():
    e = env(b"a=1&b=2trailing", length=7)
    assert read_body(e, 100) == b"a=1&b=2"


@pytest.mark.parametrize("raw", ["-1", "12abc", "1e3", " 0x10"])
def test_bad_content_length(raw):
    with pytest.raises(MalformedBody):
        content_length({"CONTENT_LENGTH": raw})


def test_declared_length_over_limit_is_refused_unread():
    e = env(b"x" * 50, length=50)
    with pytest.raises(PayloadTooLarge):
        read_body(e, 10)
    assert e["wsgi.input"].tell() == 0


def test_missing_length_needs_terminated_input():
    with pytest.raises(LengthRequired):
        read_body(env(b"a=1"), 100)
    assert read_body(env(b"a=1", terminated=True), 100) == b"a=1"
    with pytest.raises(PayloadTooLarge):
        read_body(env(b"x" * 11, terminated=True), 10)


def test_short_body():
    with pytest.raises(MalformedBody):
        read_body(env(b"abc", length=10), 100)


def test_drain_reads_the_rest_up_to_the_bound():
    e = env(b"x" * 1000, length=1000)
    drain(e)
    assert e["wsgi.input"].tell() == 1000
    e = env(b"x" * 100, length=100)
    read_body(e, 1000)
    drain(e)  # nothing left: no further read past the body
    assert e["wsgi.input"].tell() == 100
    big = env(b"x" * (DRAIN_LIMIT + 10), length=DRAIN_LIMIT + 10)
    drain(big)
    assert big["wsgi.input"].tell() == DRAIN_LIMIT
