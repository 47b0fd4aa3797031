"""The WSGI application: one submission, from POST to thanks page, as a checklist of named steps."""

import os
import sys
import traceback
from datetime import datetime

from formmail import pages, spamlog
from formmail.attachments import check_uploads, describe
from formmail.body import drain, read_body
from formmail.confirm import BACK_SCRIPT, BACK_SCRIPT_HASH, PAYLOAD_FIELD, seal, unseal
from formmail.dedupe import claim, fingerprint, release
from formmail.config import load_config
from formmail.errors import (
    ConfigInvalid, HeaderInjection, LogUnavailable, MailError, MethodNotAllowed,
    RequestError, SpamDetected, TooManyRequests, UnknownForm, ValidationFailed,
)
from formmail.formdata import charset_of, decode_pairs, parse_body
from formmail.i18n import choose_language, message
from formmail.message import check_headers, compose, not_in_jis, serialize
from formmail.origin import check_origin
from formmail.secret import site_secret
from formmail.spam import check_content, check_honeypot
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
        self._secret = None

    def __call__(self, environ, start_response):
        lang = choose_language(self.config.language, environ.get("HTTP_ACCEPT_LANGUAGE"))
        json_wanted = pages.wants_json(environ.get("HTTP_ACCEPT"))
        try:
            response = self.handle(environ, lang, json_wanted)
        except RequestError as e:
            if environ.get("REQUEST_METHOD", "").upper() == "POST":
                self.note_refusal(environ, e.code, self._form_of(getattr(e, "values", [])))
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
            if environ.get("PATH_INFO", "").rstrip("/") == "/token":
                return self.token_page(environ)
            return pages.html(self.templates, "installed.html", 200, lang)
        if method != "POST":
            raise MethodNotAllowed()
        check_origin(environ, self.config.allowed_origins, self.config.allow_missing_origin)
        now = self.clock()
        self.admit(environ, now)
        form, pairs, uploads = self.read_form(environ)
        payload = next((v for n, v in pairs if n == PAYLOAD_FIELD), None) if form.confirm else None
        if payload is not None:  # the second step: values already screened, signed by us
            pairs = unseal(self.secret, form.name, payload, now.timestamp(), self.config.max_form_age)
            cleaned = clean(form, pairs)
        else:
            try:
                cleaned = self.screen(form, pairs, now)
            except SpamDetected as e:
                self.note_refusal(environ, e.code, form)
                return self.thanks(form, new_reference(now), lang, json_wanted)  # the bot sees success
            if form.confirm:
                return self.confirm_page(form, pairs, cleaned, now, lang, json_wanted)
        reference = self.accept(environ, form, cleaned, uploads, now)
        return self.thanks(form, reference, lang, json_wanted)

    def accept(self, environ, form, cleaned, uploads, now):
        """A valid post: composed, recorded, mailed (once, whatever the clicks); its reference."""
        if uploads:  # the log keeps each file's name, size and hash; the mail carries the file
            from dataclasses import replace

            cleaned = replace(cleaned, extras=cleaned.extras + tuple(describe(uploads)))
        submission = self.record_of(environ, form, cleaned, now)
        msg = self.compose(form, submission, uploads)
        fp = fingerprint(form.name, cleaned)
        window = self.config.duplicate_window_minutes * 60
        earlier = claim(self.log, fp, submission.id, now.timestamp(), window) if window else None
        if earlier:
            return earlier  # a double click: already recorded and sent
        try:
            entry = self.log.append(form, submission)
        except LogUnavailable:
            if window:
                release(self.log, fp, now.timestamp(), window)
            raise
        self.deliver(msg, entry, submission)
        if form.autoreply and submission.reply_to:
            from formmail.autoreply import send_autoreply

            send_autoreply(self, form, submission, now)
        return submission.id

    def confirm_page(self, form, pairs, cleaned, now, lang, json_wanted):
        """The first step of a form with `confirm = yes`: the values, and a signed payload."""
        kept = [(n, v) for n, v in pairs if not n.startswith("_")]
        payload = seal(self.secret, form.name, kept, now.timestamp())
        if json_wanted:
            return pages.as_json(200, {"ok": True, "confirm": True, "payload": payload})
        fields = [(f.label, cleaned.values.get(f.name, "")) for f in form.fields] + list(cleaned.extras)
        return pages.html(self.templates, "confirm.html", 200, lang, script_hash=BACK_SCRIPT_HASH,
                          form=form, fields=fields, payload=payload, back_script=BACK_SCRIPT)

    @property
    def secret(self):
        if self._secret is None:
            self._secret = site_secret(self.config)
        return self._secret

    def admit(self, environ, now):
        """Rate limits, from headers only: a flood is refused before its body is read."""
        c = self.config
        if not (c.max_posts_per_client or c.max_posts_per_hour):
            return
        from formmail.ratelimit import admit, client_key

        try:
            key = client_key(self.secret, environ.get("REMOTE_ADDR", ""))
        except OSError as e:
            raise LogUnavailable(f"cannot read the site secret: {e}") from None
        admit(self.log, key, now.timestamp(), c.max_posts_per_client, c.client_window_minutes * 60,
              c.max_posts_per_hour)

    def screen(self, form, pairs, now):
        """Bot checks and validation; SpamDetected for a bot, ValidationFailed for a person's slip."""
        c = self.config
        check_honeypot(pairs, c.honeypot)
        if c.token:
            from formmail.token import TOKEN_FIELD, verify

            token = next((v for n, v in pairs if n == TOKEN_FIELD), "")
            verify(self.secret, form.name, token, now.timestamp(), c.min_seconds, c.max_form_age)
        cleaned = clean(form, pairs)
        check_content([*cleaned.values.values(), *(v for _, v in cleaned.extras)],
                      c.max_links, c.max_nontext_share)
        return cleaned

    def note_refusal(self, environ, reason, form):
        """One line in the spam log (no field values); never raises."""
        spamlog.record(self.log, self.clock(), reason, form.name if form else "",
                       environ.get("REMOTE_ADDR", ""), environ.get("HTTP_USER_AGENT", ""))

    def token_page(self, environ):
        """GET formmail.cgi/token?form=NAME: a fresh time token for the form's hidden _token field."""
        from urllib.parse import parse_qs

        from formmail.token import issue

        name = (parse_qs(environ.get("QUERY_STRING", "")).get("form") or [""])[0]
        form = self.config.form(name)
        if form is None:
            return pages.as_json(404, {"ok": False, "error": "unknown_form"})
        return pages.as_json(200, {"token": issue(self.secret, form.name, self.clock().timestamp())})

    def doctor_page(self, environ, method, lang):
        """The doctor report for hosts without SSH: only with doctor_password set and given."""
        import hmac

        if not self.config.doctor_password:
            return pages.html(self.templates, "installed.html", 404, lang)
        if method in ("GET", "HEAD"):
            return pages.html(self.templates, "doctor.html", 200, lang, checks=None, wrong=False)
        if method != "POST":
            raise MethodNotAllowed()
        self.admit(environ, self.clock())  # password guesses count against the same limits
        raw, _ = self.read_raw(environ, max_fields=10)
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

    def read_raw(self, environ, max_fields):
        """The body within its size limit, split by its media type: (RawForm, media parameters)."""
        body = read_body(environ, self.config.max_body_size)
        media, params = _media_type(environ.get("CONTENT_TYPE", ""))
        return parse_body(media, params, body, max_fields=max_fields), params

    def read_form(self, environ):
        """The decoded fields, the form they name, and its uploads checked against its rules."""
        raw, params = self.read_raw(environ, self.config.max_fields)
        pairs = decode_pairs(raw, charset_of(raw, params.get("charset")))
        name = next((v for n, v in pairs if n == FORM_FIELD), "")
        form = self.config.form(name.strip())
        if form is None:
            raise UnknownForm(f"unknown form {name[:40]!r}")
        accepted, errors = check_uploads(form, raw.files)
        if errors:
            raise ValidationFailed(errors, [(n, v) for n, v in pairs if not n.startswith("_")])
        return form, pairs, accepted

    def record_of(self, environ, form, cleaned, now):
        return Submission(
            id=new_reference(now), received_at=now, form=form.name, values=cleaned.values,
            extras=cleaned.extras, reply_to=cleaned.reply_to, reply_name=cleaned.reply_name,
            remote_addr=environ.get("REMOTE_ADDR", "")[:64],
        )

    def compose(self, form, submission, uploads=()):
        """The owner's mail, refused (400, nothing stored) if its headers fail the final check."""
        body = self.templates.render(
            form.mail_template, submission=submission, form=form,
            fields=[(f.label, submission.values.get(f.name, "")) for f in form.fields])
        msg = compose(self.config, form, submission, body, allow_jis=not uploads)
        for _, name, media, data in uploads:
            maintype, _, subtype = media.partition("/")
            msg.add_attachment(data, maintype=maintype, subtype=subtype, filename=name)
        if form.charset == "iso-2022-jp" and not uploads and "iso-2022-jp" not in str(msg.get("Content-Type", "")).lower():
            missing = "".join(not_in_jis([self.config.sender_name, submission.reply_name or "",
                                         str(msg["Subject"]), body]))
            log_error(f"submission {submission.id} mailed in UTF-8, not ISO-2022-JP: it holds "
                      f"characters ISO-2022-JP cannot carry: {missing[:40]}")
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

    def thanks(self, form, reference, lang, json_wanted):
        if json_wanted:
            return pages.as_json(200, {"ok": True, "id": reference})
        if form.thanks_url:
            return pages.redirect(form.thanks_url)
        return pages.html(self.templates, "thanks.html", 200, lang, reference=reference)

    def refusal(self, error, lang, json_wanted):
        form = None
        errors = getattr(error, "errors", [])
        if errors:
            form = self._form_of(error.values)
        fields = pages.field_messages(lang, form, errors)
        values = getattr(error, "values", [])
        if form:  # show the visitor the labels of the form, not the HTML field names
            values = [((form.field(n).label if form.field(n) else n), v) for n, v in values]
        text = message(lang, error.code, **error.params)
        if json_wanted:
            response = pages.as_json(error.status, {"ok": False, "error": error.code, "message": text,
                                                    "errors": fields})
        else:
            response = pages.html(self.templates, "error.html", error.status, lang, message=text,
                                  errors=fields, values=values,
                                  title_key="title_error" if errors else "title_refused")
        if isinstance(error, TooManyRequests):
            response.headers["Retry-After"] = str(error.retry_after)
        return response

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
