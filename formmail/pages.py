"""Renders the visitor's pages and JSON answers from the Jinja2 templates, with security headers."""

import json
from http import HTTPStatus
from pathlib import Path

from formmail.i18n import MESSAGES, message

PACKAGE_TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
# No script may run, nothing may frame the page, and nothing loads from elsewhere.
CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
    # Thanks and error pages can show what a visitor typed: never cache them.
    "Cache-Control": "no-store",
}
PLAIN_500 = (
    "<!doctype html><meta charset=utf-8><title>500</title>"
    "<p>サーバーでエラーが起きました。送信されていません。しばらくしてからもう一度お試しください。"
    "<p>Something went wrong on the server. Your message was not sent; please try again later.\n"
)


class Response:
    """A finished answer as a WSGI app: status, headers, one body (dropped for HEAD).

    werkzeug's Response would do, but importing werkzeug costs a CGI submission about a third
    of its run time, and a submission needs nothing more than this.
    """

    def __init__(self, body, status=200, headers=None, content_type="text/html; charset=utf-8"):
        self.body = body.encode("utf-8") if isinstance(body, str) else body
        self.status = status
        self.headers = {"Content-Type": content_type, **(headers or {})}

    def __call__(self, environ, start_response):
        reason = HTTPStatus(self.status).phrase
        headers = [*self.headers.items(), ("Content-Length", str(len(self.body)))]
        start_response(f"{self.status} {reason}", headers)
        return [] if environ.get("REQUEST_METHOD") == "HEAD" else [self.body]

    def get_data(self):
        return self.body


def redirect(location, status=303):
    """See Other: the browser fetches `location` (a config value, checked when loaded)."""
    return Response(f'<a href="{location}">{location}</a>\n', status,
                    {**SECURITY_HEADERS, "Location": location})


class Templates:
    """The template folder of the config, falling back to formmail's own for missing files."""

    def __init__(self, folder=None):
        from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

        folders = [str(f) for f in (folder, PACKAGE_TEMPLATES) if f]
        self.env = Environment(
            loader=ChoiceLoader([FileSystemLoader(f) for f in folders]),
            autoescape=select_autoescape(["html"], default_for_string=False),
            keep_trailing_newline=True,
        )

    def render(self, name, **context):
        return self.env.get_template(name).render(**context)


def wants_json(accept):
    """True when the client prefers application/json to text/html."""
    best = {}
    for item in (accept or "").split(","):
        kind, _, params = item.strip().partition(";")
        q = 1.0
        for p in params.split(";"):
            if p.strip().startswith("q="):
                try:
                    q = float(p.strip()[2:])
                except ValueError:
                    q = 0.0
        best[kind.strip().lower()] = max(q, best.get(kind.strip().lower(), 0.0))
    return best.get("application/json", 0.0) > max(best.get("text/html", 0.0), best.get("*/*", 0.0) / 2)


def html(templates, name, status, lang, script_hash=None, **context):
    """A page from a template; `script_hash` lets exactly one known inline script run."""
    body = templates.render(name, lang=lang, t=MESSAGES[lang], **context)
    headers = dict(SECURITY_HEADERS)
    if script_hash:
        headers["Content-Security-Policy"] = f"{CSP}; script-src 'sha256-{script_hash}'"
    return Response(body, status, headers)


def as_json(status, payload):
    return Response(json.dumps(payload, ensure_ascii=False), status, SECURITY_HEADERS,
                    "application/json; charset=utf-8")


def plain_500():
    return Response(PLAIN_500, 500, SECURITY_HEADERS)


def field_messages(lang, form, errors):
    """Each FieldError as {field, code, message}, the field named by its label."""
    result = []
    for e in errors:
        field = form.field(e.field) if form else None
        label = field.label if field else e.field
        result.append({"field": e.field, "code": e.code,
                       "message": message(lang, e.code, label=label, **e.params)})
    return result
