"""Responses: JSON negotiation, HEAD, redirects, templates falling back to formmail's own."""

import pytest

from formmail.pages import Response, Templates, redirect, wants_json


@pytest.mark.parametrize("accept, expected", [
    ("application/json", True), ("application/json, text/plain, */*", True),
    ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
    ("*/*", False), ("", False), ("text/html;q=0.5, application/json;q=0.9", True),
    ("application/json;q=0", False),
])
def test_wants_json(accept, expected):
    assert wants_json(accept) is expected


def call(response, method="GET"):
    seen = {}
    body = b"".join(response({"REQUEST_METHOD": method}, lambda s, h: seen.update(status=s, headers=h)))
    return seen["status"], dict(seen["headers"]), body


def test_response_and_head():
    status, headers, body = call(Response("日本語", 400))
    assert status == "400 Bad Request" and body == "日本語".encode()
    assert headers["Content-Length"] == str(len(body))
    status, headers, body = call(Response("日本語", 200), "HEAD")
    assert body == b"" and headers["Content-Length"] == str(len("日本語".encode()))


def test_redirect():
    status, headers, _ = call(redirect("/thanks.html"))
    assert status == "303 See Other" and headers["Location"] == "/thanks.html"


def test_own_template_overrides_and_missing_ones_fall_back(tmp_path):
    (tmp_path / "thanks.html").write_text("mine {{ reference }}")
    templates = Templates(tmp_path)
    assert templates.render("thanks.html", reference="X") == "mine X"
    assert "<!doctype html>" in templates.render("installed.html", lang="en", t={})


def test_html_is_autoescaped_and_text_is_not(tmp_path):
    (tmp_path / "a.html").write_text("{{ v }}")
    (tmp_path / "a.txt").write_text("{{ v }}")
    templates = Templates(tmp_path)
    assert templates.render("a.html", v="<b>") == "&lt;b&gt;"
    assert templates.render("a.txt", v="<b>") == "<b>"
