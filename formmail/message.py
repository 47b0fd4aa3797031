"""Composes the owner's mail for a submission with the `email` package, then re-checks its headers."""

import re
from email import policy
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from formmail.errors import HeaderInjection

MAX_SUBJECT_CHARS = 200
# Serialisation for a local MTA or a Maildir file: LF line ends, 78-column folding,
# and (where the Python has it) the CVE-2024-6923 check of generated headers.
LF_POLICY = policy.default.clone(linesep="\n")
# The headers compose() sets; check_headers() refuses a message with any other.
COMPOSED_HEADERS = (
    "From", "To", "Reply-To", "Subject", "Date", "Message-ID", "MIME-Version",
    "Content-Type", "Content-Transfer-Encoding", "X-Formmail-Id",
)


class SubjectTemplateError(ValueError):
    """The configured subject template cannot be used."""


def _jinja_env(autoescape=False):
    from jinja2.sandbox import SandboxedEnvironment

    return SandboxedEnvironment(autoescape=autoescape, keep_trailing_newline=True)


def check_subject_template(source, field_names):
    """Raise SubjectTemplateError unless `source` parses and names only known fields."""
    from jinja2 import TemplateSyntaxError, meta

    env = _jinja_env()
    try:
        names = meta.find_undeclared_variables(env.parse(source))
    except TemplateSyntaxError as e:
        raise SubjectTemplateError(f"is not a valid template: {e.message}") from None
    unknown = sorted(names - set(field_names) - {"id", "form"})
    if unknown:
        raise SubjectTemplateError(f"names {', '.join(unknown)}, which is not a field of this form")


def render_subject(source, submission):
    """The subject: the template over the fields, on one line, at most MAX_SUBJECT_CHARS long."""
    text = _jinja_env().from_string(source).render(
        dict(submission.values), id=submission.id, form=submission.form)
    # Any whitespace run (line breaks included) becomes one space, so no value can fold a header.
    text = " ".join(text.split())
    if len(text) > MAX_SUBJECT_CHARS:
        text = text[: MAX_SUBJECT_CHARS - 1] + "…"
    return text


def compose(config, form, submission, body):
    """The finished owner mail: on-domain From, visitor in Reply-To, recipients from the config."""
    msg = EmailMessage(policy=policy.default)
    try:
        msg["From"] = Address(display_name=config.sender_name, addr_spec=config.sender)
        msg["To"] = ", ".join(form.recipients)
        if submission.reply_to:
            reply = Address(display_name=submission.reply_name or "", addr_spec=submission.reply_to)
            msg["Reply-To"] = reply
            _same(str(msg["Reply-To"].addresses[0].display_name), reply.display_name, "Reply-To")
        subject = render_subject(form.subject, submission)
        msg["Subject"] = subject
        _same(str(msg["Subject"]), subject, "Subject")
    except ValueError as e:
        # Patched Pythons refuse, as ValueError, a value that decodes to a line break.
        raise HeaderInjection(f"a header value was refused: {e}") from None
    msg["Date"] = format_datetime(submission.received_at)
    msg["Message-ID"] = make_msgid(idstring=submission.id, domain=config.sender_domain)
    msg["X-Formmail-Id"] = submission.id
    if body.isascii():
        msg.set_content(body, charset="us-ascii", cte="7bit")
    else:
        msg.set_content(body, charset="utf-8", cte="base64")
    return msg


def _same(held, given, name):
    """The email package must hold what it was given: on unpatched Pythons its parser decodes
    encoded words inside a value, which can carry a line break into the header (CVE-2024-6923)."""
    if held != given:
        raise HeaderInjection(f"{name} changed when set: {given[:80]!r} became {held[:80]!r}")


def serialize(msg):
    """The message as LF-terminated bytes for sendmail or a Maildir file."""
    try:
        return msg.as_bytes(policy=LF_POLICY)
    except MessageError as e:  # HeaderWriteError, where the Python checks what it writes
        raise HeaderInjection(f"the email package refused to write a header: {e}") from None


_HEADER_LINE = re.compile(rb"([!-9;-~]+):")


def check_headers(data, expected_recipients, expected_reply_to):
    """Refuse serialized bytes whose header block holds anything compose() did not put there.

    This does not trust the standard library's folding (CVE-2024-6923 let encoded words
    smuggle a line break into a folded header on unpatched Pythons): it re-reads the bytes.
    """
    head, sep, _ = data.partition(b"\n\n")
    if not sep:
        raise HeaderInjection("no end of headers")
    names = []
    for line in head.split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            continue
        m = _HEADER_LINE.match(line)
        if not m:
            raise HeaderInjection(f"a header line without a name: {line[:60]!r}")
        names.append(m.group(1).decode("ascii"))
    allowed = {n.lower() for n in COMPOSED_HEADERS}
    seen = [n.lower() for n in names]
    extra = [n for n in names if n.lower() not in allowed]
    doubled = {n for n in seen if seen.count(n) > 1}
    if extra or doubled:
        raise HeaderInjection(f"unexpected headers: {sorted(set(extra) | doubled)}")
    from email import message_from_bytes

    parsed = message_from_bytes(data, policy=policy.default)
    try:
        to = [a.addr_spec for a in parsed["To"].addresses]
        reply = parsed["Reply-To"]
        got_reply = [a.addr_spec for a in reply.addresses] if reply is not None else []
    except ValueError as e:  # a receiver's parser would find a line break in an address header
        raise HeaderInjection(f"an address header does not parse cleanly: {e}") from None
    if to != list(expected_recipients):
        raise HeaderInjection(f"To does not match the configured recipients: {to}")
    want_reply = [expected_reply_to] if expected_reply_to else []
    if got_reply != want_reply:
        raise HeaderInjection(f"Reply-To does not hold exactly the visitor's address: {got_reply}")
    for name in ("Cc", "Bcc"):
        if parsed[name] is not None:
            raise HeaderInjection(f"{name} present")


def compose_test(config, form, when):
    """A short test mail to a form's recipients, for `send-test`."""
    msg = EmailMessage(policy=policy.default)
    msg["From"] = Address(display_name=config.sender_name, addr_spec=config.sender)
    msg["To"] = ", ".join(form.recipients)
    msg["Subject"] = f"formmail test ({form.name})"
    msg["Date"] = format_datetime(when)
    msg["Message-ID"] = make_msgid(idstring="test", domain=config.sender_domain)
    msg.set_content(
        f"This is a test mail from formmail (send-test) for the form '{form.name}'.\n"
        f"From: {config.sender}, envelope sender: {config.envelope_sender}, "
        f"transport: {config.transport}.\n\n"
        "formmail の送信テストです。このメールが届いていれば、送信設定は正しく動いています。\n",
        charset="utf-8", cte="base64")
    return msg
