"""Composes the owner's mail for a submission with the `email` package, then re-checks its headers."""

import re
from email import policy
from email.errors import MessageError
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid

from formmail.errors import HeaderInjection

MAX_SUBJECT_CHARS = 200
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


JIS = "iso-2022-jp"


def not_in_jis(texts):
    """The characters of `texts` that ISO-2022-JP cannot carry (①, ㈱, emoji, 髙 ...), in order."""
    missing = []
    for ch in "".join(texts):
        if ch not in missing:
            try:
                ch.encode("iso2022_jp")
            except UnicodeEncodeError:
                missing.append(ch)
    return missing


def compose(config, form, submission, body, allow_jis=True):
    """The finished owner mail: on-domain From, visitor in Reply-To, recipients from the config.

    With `charset = iso-2022-jp` the mail is ISO-2022-JP when every character fits, else UTF-8
    (never "?"): the caller logs that fallback (see not_in_jis). A mail that will carry
    attachments (allow_jis=False) is UTF-8: the attachment API is the modern one."""
    subject = render_subject(form.subject, submission)
    texts = [config.sender_name, submission.reply_name or "", subject, body]
    if form.charset == JIS and allow_jis and not not_in_jis(texts):
        return _compose_jis(config, form, submission, subject, body)
    msg = EmailMessage(policy=policy.default)
    try:
        msg["From"] = Address(display_name=config.sender_name, addr_spec=config.sender)
        msg["To"] = ", ".join(form.recipients)
        if submission.reply_to:
            reply = Address(display_name=submission.reply_name or "", addr_spec=submission.reply_to)
            msg["Reply-To"] = reply
            _same(str(msg["Reply-To"].addresses[0].display_name), reply.display_name, "Reply-To")
        msg["Subject"] = subject
        _same(str(msg["Subject"]), subject, "Subject")
    except ValueError as e:
        # Patched Pythons refuse, as ValueError, a value that decodes to a line break.
        raise HeaderInjection(f"a header value was refused: {e}") from None
    msg["Date"] = format_datetime(submission.received_at)
    msg["Message-ID"] = make_msgid(idstring=submission.id, domain=config.sender_domain)
    msg["X-Formmail-Id"] = submission.id
    _set_body(msg, body)
    return msg


def _compose_jis(config, form, submission, subject, body):
    """The same mail in ISO-2022-JP, for old Japanese mail clients. The modern email policy
    re-encodes every header in UTF-8, so this one is built on the compat32 API with Header, and
    then re-read to prove each header says what it was given."""
    from email import message_from_bytes
    from email.header import Header
    from email.message import Message
    from email.utils import formataddr

    msg = Message()
    msg["From"] = formataddr((config.sender_name, config.sender), charset=JIS)
    msg["To"] = ", ".join(form.recipients)
    if submission.reply_to:
        msg["Reply-To"] = formataddr((submission.reply_name or "", submission.reply_to), charset=JIS)
    msg["Subject"] = Header(subject, JIS)
    msg["Date"] = format_datetime(submission.received_at)
    msg["Message-ID"] = make_msgid(idstring=submission.id, domain=config.sender_domain)
    msg["X-Formmail-Id"] = submission.id
    msg["MIME-Version"] = "1.0"
    msg.set_payload(body, charset=JIS)
    parsed = message_from_bytes(serialize(msg), policy=policy.default)
    _same(str(parsed["Subject"]), subject, "Subject")
    if submission.reply_to:
        _same(parsed["Reply-To"].addresses[0].display_name, submission.reply_name or "", "Reply-To")
    return msg


def _same(held, given, name):
    """The email package must hold what it was given: on unpatched Pythons its parser decodes
    encoded words inside a value, which can carry a line break into the header (CVE-2024-6923)."""
    if held != given:
        raise HeaderInjection(f"{name} changed when set: {given[:80]!r} became {held[:80]!r}")


def serialize(msg):
    """The message as LF-terminated bytes for sendmail or a Maildir file, in its own policy
    (compat32 for ISO-2022-JP mail, whose headers are already encoded)."""
    try:
        return msg.as_bytes(policy=msg.policy.clone(linesep="\n"))
    except MessageError as e:  # HeaderWriteError, where the Python checks what it writes
        raise HeaderInjection(f"the email package refused to write a header: {e}") from None


_HEADER_LINE = re.compile(rb"([!-9;-~]+):")


AUTOREPLY_HEADERS = COMPOSED_HEADERS + ("Auto-Submitted",)


def compose_autoreply(config, form, submission, body):
    """The visitor's automatic reply: to the visitor's checked address only, from the on-domain
    sender, Reply-To the owner, marked Auto-Submitted so that no robot answers it."""
    msg = EmailMessage(policy=policy.default)
    try:
        msg["From"] = Address(display_name=config.sender_name, addr_spec=config.sender)
        msg["To"] = submission.reply_to
        msg["Reply-To"] = form.recipients[0]
        subject = render_subject(form.autoreply_subject, submission)
        msg["Subject"] = subject
        _same(str(msg["Subject"]), subject, "Subject")
    except ValueError as e:
        raise HeaderInjection(f"a header value was refused: {e}") from None
    msg["Date"] = format_datetime(submission.received_at)
    msg["Message-ID"] = make_msgid(idstring=submission.id + ".auto", domain=config.sender_domain)
    msg["X-Formmail-Id"] = submission.id
    msg["Auto-Submitted"] = "auto-replied"
    _set_body(msg, body)
    return msg


def _set_body(msg, body):
    if body.isascii():
        msg.set_content(body, charset="us-ascii", cte="7bit")
    else:
        msg.set_content(body, charset="utf-8", cte="base64")


def check_headers(data, expected_recipients, expected_reply_to, allowed_headers=COMPOSED_HEADERS):
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
    allowed = {n.lower() for n in allowed_headers}
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
