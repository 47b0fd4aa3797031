"""The WSGI application: one submission, from POST to thanks page, as a checklist of named steps."""

import os
import sys
import traceback
from datetime import datetime

from formmail import pages
from formmail.body import drain, read_body
from formmail.config import load_config
from formmail.errors import (
    ConfigInvalid, FieldError, HeaderInjection, LogUnavailable, MailError, MethodNotAllowed,
    RequestError, UnknownForm, ValidationFailed,
)
from formmail.formdata import charset_of, decode_pairs, parse_body
from formmail.i18n import choose_language, message
from formmail.message import check_headers, compose, serialize
from formmail.store import FAILED, SENT, SubmissionLog
from formmail.submission import Submission, new_reference
from formmail.transport import make_transport
from formmail.validate import clean

FORM_FIELD = "_form"


def log_error(text):
    """The server's error log: stderr under CGI and WSGI servers alike."""
    print(f"formmail: {text}", file=sys.stderr, flush=True)


def make_clock(timezone):
    """Now, in the config's time zone or else the server's."""
    if timezone:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(timezone)
        return lambda: datetime.now(zone).replace(microsecond=0)
    return lambda: datetime.now().astimezone().replace(microsecond=0)


class FormMail:
    """The form mailer as a WSGI callable over one loaded Config."""

    def __init__(self, config, *, transport=None, clock=None, templates=None):
        self.config = config
        self.transport = transport or make_transport(config)
        self.log = SubmissionLog.for_config(config)
        self.templates = templates or pages.Templates(config.templates_dir)
        self.clock = clock or make_clock(config.timezone)

    def __call__(self, environ, start_response):
        lang = choose_language(self.config.language, environ.get("HTTP_ACCEPT_LANGUAGE"))
        json_wanted = pages.wants_json(environ.get("HTTP_ACCEPT"))
        try:
            response = self.handle(environ, lang, json_wanted)
        except RequestError as e:
            response = self.refusal(e, lang, json_wanted)
        except LogUnavailable as e:
            log_error(f"submission refused, the log cannot be written: {e}")
            response = self.failure(e.status, e.code, lang, json_wanted)
        except Exception:
            log_error("unexpected error:\n" + traceback.format_exc())
            response = pages.plain_500()
        drain(environ)
        body = response(environ, start_response)
        if environ.get("wsgi.run_once"):
            # CGI: formmail.cgi calls after_response() once the reply is out and stdout closed.
            return body
        return _ThenRun(body, self.after_response)

    def after_response(self):
        """Work that must never delay or fail a submission: the daily prune when there is no cron."""
        from formmail.housekeeping import prune_if_due

        prune_if_due(self.config, self.log, self.clock())

    def handle(self, environ, lang, json_wanted):
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if environ.get("PATH_INFO", "").rstrip("/") == "/doctor":
            return self.doctor_page(environ, method, lang)
        if method in ("GET", "HEAD"):
            return pages.html(self.templates, "installed.html", 200, lang)
        if method != "POST":
            raise MethodNotAllowed()
        form, pairs = self.read_form(environ)
        cleaned = clean(form, pairs)
        submission = self.record_of(environ, form, cleaned)
        msg = self.compose(form, submission)
        entry = self.log.append(form, submission)
        self.deliver(msg, entry, submission)
        return self.thanks(form, submission, lang, json_wanted)

    def doctor_page(self, environ, method, lang):
        """The doctor report for hosts without SSH: only with doctor_password set and given."""
        import hmac

        if not self.config.doctor_password:
            return pages.html(self.templates, "installed.html", 404, lang)
        if method in ("GET", "HEAD"):
            return pages.html(self.templates, "doctor.html", 200, lang, checks=None, wrong=False)
        if method != "POST":
            raise MethodNotAllowed()
        body = read_body(environ, self.config.max_body_size)
        media, params = _media_type(environ.get("CONTENT_TYPE", ""))
        raw = parse_body(media, params, body, max_fields=10)
        fields = dict(decode_pairs(raw, "utf-8"))
        given = fields.get("password", "").encode("utf-8")
        if not hmac.compare_digest(given, self.config.doctor_password.encode("utf-8")):
            log_error(f"doctor page: wrong password from {environ.get('REMOTE_ADDR', '?')}")
            return pages.html(self.templates, "doctor.html", 403, lang, checks=None, wrong=True)
        from formmail.doctor import discover_ip, run_checks

        ip = fields.get("ip", "").strip()
        ip, source = (ip, "given in the form") if ip else discover_ip(environ.get("SERVER_ADDR"))
        checks = run_checks(self.config, ip, source)
        return pages.html(self.templates, "doctor.html", 200, lang, checks=checks, wrong=False)

    def read_form(self, environ):
        """Body within limits, parsed, decoded; the form it names; no uploads."""
        body = read_body(environ, self.config.max_body_size)
        media, params = _media_type(environ.get("CONTENT_TYPE", ""))
        raw = parse_body(media, params, body, max_fields=self.config.max_fields)
        pairs = decode_pairs(raw, charset_of(raw, params.get("charset")))
        name = next((v for n, v in pairs if n == FORM_FIELD), "")
        form = self.config.form(name.strip())
        if form is None:
            raise UnknownForm(f"unknown form {name[:40]!r}")
        if raw.files:
            raise ValidationFailed([FieldError(f, "upload_refused") for f in raw.files],
                                   [(n, v) for n, v in pairs if not n.startswith("_")])
        return form, pairs

    def record_of(self, environ, form, cleaned):
        now = self.clock()
        return Submission(
            id=new_reference(now), received_at=now, form=form.name, values=cleaned.values,
            extras=cleaned.extras, reply_to=cleaned.reply_to, reply_name=cleaned.reply_name,
            remote_addr=environ.get("REMOTE_ADDR", "")[:64],
        )

    def compose(self, form, submission):
        """The owner's mail, refused (400, nothing stored) if its headers fail the final check."""
        body = self.templates.render(
            form.mail_template, submission=submission, form=form,
            fields=[(f.label, submission.values.get(f.name, "")) for f in form.fields])
        msg = compose(self.config, form, submission, body)
        try:
            check_headers(serialize(msg), form.recipients, submission.reply_to)
        except HeaderInjection as e:
            log_error(f"refused a post whose mail headers failed the final check: {e}")
            raise
        return msg

    def deliver(self, msg, entry, submission):
        """Hand the mail to the MTA; record the outcome. A failure stays in the log for resend."""
        try:
            self.transport.send(msg, self.config.envelope_sender, self.config.form(submission.form).recipients)
        except MailError as e:
            log_error(f"mail for submission {submission.id} not sent (kept in {entry.path.name}): {e}")
            self._mark(entry, FAILED)
            return False
        self._mark(entry, SENT)
        return True

    def _mark(self, entry, status):
        try:
            self.log.mark(entry, status)
        except (LogUnavailable, OSError) as e:
            log_error(f"could not record mail status {status!r} in {entry.path.name}: {e}")

    def thanks(self, form, submission, lang, json_wanted):
        if json_wanted:
            return pages.as_json(200, {"ok": True, "id": submission.id})
        if form.thanks_url:
            return pages.redirect(form.thanks_url)
        return pages.html(self.templates, "thanks.html", 200, lang, reference=submission.id)

    def refusal(self, error, lang, json_wanted):
        form = None
        errors = getattr(error, "errors", [])
        if errors:
            form = self._form_of(error.values)
        fields = pages.field_messages(lang, form, errors)
        text = message(lang, error.code, **error.params)
        if json_wanted:
            return pages.as_json(error.status, {"ok": False, "error": error.code, "message": text,
                                                "errors": fields})
        return pages.html(self.templates, "error.html", error.status, lang, message=text,
                          errors=fields, values=getattr(error, "values", []),
                          title_key="title_error" if errors else "title_refused")

    def _form_of(self, values):
        name = next((v for n, v in values if n == FORM_FIELD), "")
        return self.config.form(name.strip())

    def failure(self, status, code, lang, json_wanted):
        text = message(lang, code)
        if json_wanted:
            return pages.as_json(status, {"ok": False, "error": code, "message": text, "errors": []})
        return pages.html(self.templates, "error.html", status, lang, message=text, errors=[],
                          values=[], title_key="title_refused")


def _media_type(header):
    """`text/plain; charset=x` -> ("text/plain", {"charset": "x"}), names lower-cased."""
    from email.message import Message

    holder = Message()
    try:
        holder["Content-Type"] = header or "application/octet-stream"
        params = {k.lower(): v for k, v in holder.get_params(failobj=[])[1:]}
        return holder.get_content_type(), params
    except Exception:  # a header the parser chokes on is simply not a form
        return "", {}


class _ThenRun:
    """A response body that runs `then` when the server closes it, i.e. after sending it."""

    def __init__(self, body, then):
        self.body = body
        self.then = then

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            self.then()


class BrokenConfigApp:
    """Stands in when the config cannot be loaded: a plain 500 to visitors, the reasons to stderr."""

    def __init__(self, error):
        self.error = error

    def __call__(self, environ, start_response):
        log_error(f"formmail is not configured correctly: {self.error}")
        drain(environ)
        return pages.plain_500()(environ, start_response)

    def after_response(self):
        pass


def create_app(config_path=None, **kwargs):
    """The WSGI application for the config at `config_path` (default: $FORMMAIL_CONFIG)."""
    path = config_path or os.environ.get("FORMMAIL_CONFIG") or "config.ini"
    try:
        return FormMail(load_config(path), **kwargs)
    except ConfigInvalid as e:
        return BrokenConfigApp(e)


class _LazyApplication:
    """`formmail.app:application` for WSGI servers: built on the first request, from $FORMMAIL_CONFIG."""

    def __init__(self):
        self._app = None

    def __call__(self, environ, start_response):
        if self._app is None:
            self._app = create_app()
        return self._app(environ, start_response)


application = _LazyApplication()
