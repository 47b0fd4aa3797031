"""Reads config.ini into frozen settings, collecting every mistake with its section and key."""

import configparser
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from formmail.address import AddressError, normalize_address
from formmail.errors import ConfigError, ConfigInvalid

TRANSPORTS = ("sendmail", "smtp", "maildir")
ROTATIONS = ("monthly", "daily", "yearly")
LANGUAGES = ("auto", "ja", "en")
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")
FIELD_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-]{0,63}\Z")
FORM_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,31}\Z")

# Defaults of the named limits; config.example.ini documents each one.
DEFAULT_MAX_BODY_SIZE = 1_000_000
DEFAULT_MAX_FIELDS = 50
DEFAULT_MAX_FIELD_LENGTH = 1_000
DEFAULT_MAX_TEXT_LENGTH = 10_000
DEFAULT_MAIL_TIMEOUT = 30
DEFAULT_RETENTION_DAYS = 180
MIN_PASSWORD = 12  # doctor_password and secret guard things on the open web: short ones are guessed


@dataclass(frozen=True)
class Field:
    """One configured form field: its name in the HTML, its label, and its limits."""

    name: str
    label: str
    multiline: bool
    max_length: int


@dataclass(frozen=True)
class Form:
    """One [form:NAME] section."""

    name: str
    recipients: tuple
    subject: str
    fields: tuple
    required: frozenset
    reply_to: str = None
    reply_to_name: str = None
    thanks_url: str = None
    mail_template: str = "mail.txt"
    max_field_length: int = DEFAULT_MAX_FIELD_LENGTH
    max_text_length: int = DEFAULT_MAX_TEXT_LENGTH
    confirm: bool = False
    autoreply: bool = False
    autoreply_subject: str = "お問い合わせを受け付けました / We have received your message"
    autoreply_template: str = "autoreply.txt"
    autoreply_interval_minutes: int = 60
    charset: str = "utf-8"
    attachments: tuple = ()
    attachment_types: tuple = ("pdf", "jpg", "jpeg", "png")
    max_attachment_size: int = 2_000_000

    def field(self, name):
        for f in self.fields:
            if f.name == name:
                return f
        return None

    @property
    def header_fields(self):
        """Fields whose values reach a mail header, so they may never hold a line break."""
        return {n for n in (self.reply_to, self.reply_to_name) if n}


@dataclass(frozen=True)
class Config:
    """The whole config: [formmail] settings plus the forms."""

    path: Path
    base_dir: Path
    sender: str
    sender_name: str
    envelope_sender: str
    transport: str
    sendmail_path: str
    smtp_host: str
    smtp_port: int
    smtp_user: str
    smtp_password: str = field(repr=False)
    smtp_starttls: bool = False
    outbox: Path = None
    log_dir: Path = None
    retention_days: int = DEFAULT_RETENTION_DAYS
    rotation: str = "monthly"
    auto_prune: bool = True
    file_mode: int = 0o600
    dir_mode: int = 0o700
    language: str = "auto"
    timezone: str = ""
    templates_dir: Path = None
    max_body_size: int = DEFAULT_MAX_BODY_SIZE
    max_fields: int = DEFAULT_MAX_FIELDS
    mail_timeout: float = DEFAULT_MAIL_TIMEOUT
    doctor_password: str = field(default="", repr=False)
    secret: str = field(default="", repr=False)
    allowed_origins: tuple = ()
    allow_missing_origin: bool = True
    honeypot: str = "_website"
    token: bool = False
    min_seconds: int = 3
    max_form_age: int = 2 * 3600
    max_links: int = None
    max_nontext_share: float = None
    max_posts_per_client: int = 10
    client_window_minutes: int = 10
    max_posts_per_hour: int = 200
    duplicate_window_minutes: int = 10
    forms: dict = field(default_factory=dict)

    @property
    def sender_domain(self):
        return self.sender.rpartition("@")[2]

    def form(self, name):
        """The form a request names, or the only form when it names none; None if unknown."""
        if not name and len(self.forms) == 1:
            return next(iter(self.forms.values()))
        return self.forms.get(name)


FORMMAIL_KEYS = {
    "sender", "sender_name", "envelope_sender", "transport", "sendmail_path", "smtp_host",
    "smtp_port", "smtp_user", "smtp_password", "smtp_starttls", "outbox", "log_dir",
    "retention_days", "rotation", "auto_prune", "file_mode", "dir_mode", "language", "timezone", "templates", "max_body_size", "max_fields",
    "max_field_length", "max_text_length", "mail_timeout", "doctor_password",
    "secret", "allowed_origins", "allow_missing_origin", "honeypot", "token", "min_seconds",
    "max_form_age", "max_links", "max_nontext_share", "max_posts_per_client",
    "client_window_minutes", "max_posts_per_hour", "duplicate_window_minutes",
}
FORM_KEYS = {
    "recipients", "subject", "fields", "required", "reply_to", "reply_to_name", "multiline",
    "thanks_url", "mail_template", "max_field_length", "max_text_length", "confirm",
    "autoreply", "autoreply_subject", "autoreply_template", "autoreply_interval_minutes", "charset",
    "attachments", "attachment_types", "max_attachment_size",
}
MAIL_CHARSETS = ("utf-8", "iso-2022-jp")


def load_config(path):
    """Read and check the config file at `path`; raise ConfigInvalid listing every mistake."""
    path = Path(path).absolute()
    try:
        text = path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise ConfigInvalid(path, ["the config file does not exist"]) from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigInvalid(path, [f"the config file cannot be read: {e}"]) from None
    return parse_config(text, path)


def parse_config(text, path, base_dir=None):
    """Parse config text; relative paths in it are taken from `base_dir` (default: its folder)."""
    path = Path(path)
    parser = configparser.ConfigParser(interpolation=None, strict=True, default_section="\0")
    try:
        parser.read_string(text, source=str(path))
    except configparser.Error as e:
        raise ConfigInvalid(path, [_plain_parser_error(e)]) from None
    reader = _Reader(parser, Path(base_dir) if base_dir else path.parent)
    config = reader.read(path)
    if reader.errors:
        raise ConfigInvalid(path, reader.errors)
    return config


def _plain_parser_error(e):
    if isinstance(e, configparser.DuplicateOptionError):
        return f"[{e.section}] {e.option}: is set twice (line {e.lineno})"
    if isinstance(e, configparser.DuplicateSectionError):
        return f"[{e.section}]: the section appears twice (line {e.lineno})"
    if isinstance(e, configparser.MissingSectionHeaderError):
        return f"line {e.lineno}: settings must come after a section header such as [formmail]"
    return f"the file is not valid INI: {e}".replace("\n", " ")


def parse_list(value):
    """Split a comma- or line-separated list, dropping empty items."""
    return [item.strip() for item in re.split(r"[,\n]", value or "") if item.strip()]


def parse_fields(value):
    """Parse `fields`: one `name = Label` per line, or comma-separated names; in order."""
    result = []
    for line in (value or "").splitlines():
        line = line.strip()
        if not line:
            continue
        if "=" in line:
            name, _, label = line.partition("=")
            result.append((name.strip(), label.strip() or name.strip()))
        else:
            result.extend((name, name) for name in parse_list(line))
    return result


class _Reader:
    """Reads typed values out of a ConfigParser, recording mistakes instead of stopping."""

    def __init__(self, parser, base_dir):
        self.parser = parser
        self.base_dir = base_dir
        self.errors = []

    def error(self, section, key, message):
        self.errors.append(ConfigError(section, key, message))

    def get(self, section, key, default=""):
        value = self.parser.get(section, key, fallback=None)
        return default if value is None or value.strip() == "" else value.strip()

    def integer(self, section, key, default, minimum=1, maximum=None):
        raw = self.get(section, key, None)
        if raw is None:
            return default
        try:
            value = int(raw.replace("_", ""))
        except ValueError:
            self.error(section, key, f"must be a whole number, not {raw!r}")
            return default
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum}" if maximum is not None else ""
            self.error(section, key, f"must be at least {minimum}{upper}, not {value}")
            return default
        return value

    def choice(self, section, key, choices, default):
        value = self.get(section, key, default).lower()
        if value not in choices:
            self.error(section, key, f"must be one of {', '.join(choices)}, not {value!r}")
            return default
        return value

    def boolean(self, section, key, default):
        raw = self.get(section, key, None)
        if raw is None:
            return default
        if raw.lower() in ("yes", "true", "on", "1"):
            return True
        if raw.lower() in ("no", "false", "off", "0"):
            return False
        self.error(section, key, f"must be yes or no, not {raw!r}")
        return default

    def mode(self, section, key, default, need, refuse):
        """A permission mode in octal, e.g. 0600; it must keep what the owner needs."""
        raw = self.get(section, key, None)
        if raw is None:
            return default
        try:
            value = int(raw, 8)
        except ValueError:
            value = -1
        if not 0 <= value <= 0o777 or value & need != need or value & refuse:
            self.error(section, key, f"must be an octal mode such as {default:04o} that keeps "
                       f"{need:04o} for the owner{' and no execute bits' if refuse else ''}, not {raw!r}")
            return default
        return value

    def origins(self, section, key):
        for origin in parse_list(self.get(section, key)):
            if not re.match(r"https?://[A-Za-z0-9.-]+(:\d+)?/?\Z", origin):
                self.error(section, key, f"{origin!r} is not an origin like https://www.example.jp")
                continue
            yield origin.rstrip("/")

    def share(self, section, key):
        raw = self.get(section, key, None)
        if raw is None:
            return None
        try:
            value = float(raw.rstrip("%")) / (100 if raw.endswith("%") else 1)
        except ValueError:
            value = -1
        if not 0 <= value <= 1:
            self.error(section, key, f"must be a share such as 0.5 or 50%, not {raw!r}")
            return None
        return value

    def password(self, section, key):
        value = self.get(section, key)
        if value and len(value) < MIN_PASSWORD:
            self.error(section, key, f"must be at least {MIN_PASSWORD} characters (or empty)")
            return ""
        return value

    def address(self, section, key, raw):
        try:
            value = normalize_address(raw)
        except AddressError as e:
            self.error(section, key, f"{raw!r} is not a plain address like name@example.com ({e})")
            return None
        if value.startswith("-"):
            self.error(section, key, f"{raw!r} may not start with '-'")
            return None
        return value

    def path(self, section, key, default):
        raw = self.get(section, key, default)
        return (self.base_dir / os.path.expanduser(raw)).resolve()

    def unknown_keys(self, section, known):
        for key in self.parser.options(section):
            if key not in known:
                self.error(section, key, "is not a setting formmail knows (misspelt?)")

    def read(self, path):
        s = "formmail"
        if not self.parser.has_section(s):
            self.error(s, None, "the section is missing; it holds the sender and the transport")
            return None
        self.unknown_keys(s, FORMMAIL_KEYS)
        sender = self.get(s, "sender")
        if not sender:
            self.error(s, "sender", "is required: the From address, on your site's own domain")
        else:
            sender = self.address(s, "sender", sender)
        envelope = self.get(s, "envelope_sender")
        envelope = self.address(s, "envelope_sender", envelope) if envelope else sender
        sender_name = self.get(s, "sender_name")
        if any(c in sender_name for c in "\r\n\0\u2028\u2029\x85"):
            self.error(s, "sender_name", "must be on one line")
        transport = self.choice(s, "transport", TRANSPORTS, "sendmail")
        smtp_host = self.get(s, "smtp_host", "localhost")
        smtp_starttls = self.boolean(s, "smtp_starttls", smtp_host not in LOOPBACK_HOSTS)
        outbox = self.path(s, "outbox", "outbox")
        templates = self.path(s, "templates", "templates")
        raw_honeypot = self.parser.get(s, "honeypot", fallback=None)  # empty turns it off
        honeypot = "_website" if raw_honeypot is None else raw_honeypot.strip()
        timezone = self.get(s, "timezone")
        if timezone:
            self._check_timezone(s, timezone)
        config = Config(
            path=path,
            base_dir=self.base_dir,
            sender=sender,
            sender_name=sender_name,
            envelope_sender=envelope,
            transport=transport,
            sendmail_path=self.get(s, "sendmail_path", "/usr/sbin/sendmail"),
            smtp_host=smtp_host,
            smtp_port=self.integer(s, "smtp_port", 25, 1, 65535),
            smtp_user=self.get(s, "smtp_user"),
            smtp_password=self.get(s, "smtp_password"),
            smtp_starttls=smtp_starttls,
            outbox=outbox,
            log_dir=self.path(s, "log_dir", "data"),
            retention_days=self.integer(s, "retention_days", DEFAULT_RETENTION_DAYS, 1, 36500),
            rotation=self.choice(s, "rotation", ROTATIONS, "monthly"),
            auto_prune=self.boolean(s, "auto_prune", True),
            file_mode=self.mode(s, "file_mode", 0o600, need=0o600, refuse=0o111),
            dir_mode=self.mode(s, "dir_mode", 0o700, need=0o700, refuse=0),
            language=self.choice(s, "language", LANGUAGES, "auto"),
            timezone=timezone,
            templates_dir=templates,
            max_body_size=self.integer(s, "max_body_size", DEFAULT_MAX_BODY_SIZE, 1024),
            max_fields=self.integer(s, "max_fields", DEFAULT_MAX_FIELDS, 1, 10_000),
            mail_timeout=self.integer(s, "mail_timeout", DEFAULT_MAIL_TIMEOUT, 1, 600),
            doctor_password=self.password(s, "doctor_password"),
            secret=self.password(s, "secret"),
            allowed_origins=tuple(self.origins(s, "allowed_origins")),
            allow_missing_origin=self.boolean(s, "allow_missing_origin", True),
            honeypot=honeypot,
            token=self.boolean(s, "token", False),
            min_seconds=self.integer(s, "min_seconds", 3, 0, 3600),
            max_form_age=self.integer(s, "max_form_age", 2 * 3600, 60, 30 * 86400),
            max_links=self.integer(s, "max_links", None, 0, 1000),
            max_nontext_share=self.share(s, "max_nontext_share"),
            max_posts_per_client=self.integer(s, "max_posts_per_client", 10, 0, 100_000),
            client_window_minutes=self.integer(s, "client_window_minutes", 10, 1, 24 * 60),
            max_posts_per_hour=self.integer(s, "max_posts_per_hour", 200, 0, 1_000_000),
            duplicate_window_minutes=self.integer(s, "duplicate_window_minutes", 10, 0, 24 * 60),
            forms={},
        )
        defaults = {
            "max_field_length": self.integer(s, "max_field_length", DEFAULT_MAX_FIELD_LENGTH),
            "max_text_length": self.integer(s, "max_text_length", DEFAULT_MAX_TEXT_LENGTH),
        }
        for section in self.parser.sections():
            if section == s:
                continue
            if not section.startswith("form:"):
                self.error(section, None, "is not a section formmail knows; forms are [form:NAME]")
                continue
            form = self.read_form(section, defaults)
            if form:
                config.forms[form.name] = form
        if not config.forms:
            self.error("form:NAME", None, "no form is configured; add a [form:contact] section")
        return config

    def _check_timezone(self, s, timezone):
        try:
            from zoneinfo import ZoneInfo

            ZoneInfo(timezone)
        except Exception:
            self.error(s, "timezone", f"{timezone!r} is not a known time zone (e.g. Asia/Tokyo)")

    def read_form(self, section, defaults):
        name = section[len("form:"):].strip()
        if not FORM_NAME.match(name):
            self.error(section, None, "the form name may use letters, digits, _ and - only")
            return None
        self.unknown_keys(section, FORM_KEYS)
        recipients = tuple(
            a for a in (self.address(section, "recipients", r)
                        for r in parse_list(self.get(section, "recipients")))
            if a)
        if not self.get(section, "recipients"):
            self.error(section, "recipients", "is required: who receives this form's mail")
        max_field = self.integer(section, "max_field_length", defaults["max_field_length"])
        max_text = self.integer(section, "max_text_length", defaults["max_text_length"])
        multiline = set(parse_list(self.get(section, "multiline")))
        declared = parse_fields(self.get(section, "fields"))
        if not declared:
            self.error(section, "fields",
                       "is required: list the form's fields in order, e.g. fields = name, email, message")
        fields, seen = [], set()
        for fname, label in declared:
            if not FIELD_NAME.match(fname) or fname.startswith("_"):
                self.error(section, "fields", f"{fname!r} is not a usable field name "
                           "(letters, digits, _ . -; not starting with _)")
                continue
            if fname in seen:
                self.error(section, "fields", f"{fname!r} is listed twice")
                continue
            seen.add(fname)
            is_text = fname in multiline
            fields.append(Field(fname, label, is_text, max_text if is_text else max_field))
        for key, names in (("required", parse_list(self.get(section, "required"))),
                           ("multiline", multiline)):
            for fname in names:
                if fname not in seen:
                    self.error(section, key, f"{fname!r} is not in this form's fields")
        reply_to = self.get(section, "reply_to") or None
        reply_to_name = self.get(section, "reply_to_name") or None
        for key, fname in (("reply_to", reply_to), ("reply_to_name", reply_to_name)):
            if fname and fname not in seen:
                self.error(section, key, f"{fname!r} is not in this form's fields")
            elif fname and fname in multiline:
                self.error(section, key, f"{fname!r} reaches a mail header, so it cannot be multiline")
        thanks_url = self.get(section, "thanks_url") or None
        if thanks_url and not re.match(r"(https?://[^\s]+|/[^\s]*)\Z", thanks_url):
            self.error(section, "thanks_url", "must be a full http(s):// address or a path starting with /")
        subject = self.get(section, "subject", f"[{name}] form submission")
        self._check_subject(section, subject, seen)
        autoreply = self.boolean(section, "autoreply", False)
        if parse_list(self.get(section, "attachments")) and self.boolean(section, "confirm", False):
            self.error(section, "attachments", "cannot be combined with confirm = yes: the file would "
                       "have to be stored on the server between the two steps")
        if autoreply and not reply_to:
            self.error(section, "autoreply", "needs reply_to: the field with the visitor's address")
        return Form(
            name=name,
            recipients=recipients,
            subject=subject,
            fields=tuple(fields),
            required=frozenset(parse_list(self.get(section, "required"))),
            reply_to=reply_to,
            reply_to_name=reply_to_name,
            thanks_url=thanks_url,
            mail_template=self.get(section, "mail_template", "mail.txt"),
            max_field_length=max_field,
            max_text_length=max_text,
            confirm=self.boolean(section, "confirm", False),
            autoreply=autoreply,
            autoreply_subject=self.get(section, "autoreply_subject", Form.autoreply_subject),
            autoreply_template=self.get(section, "autoreply_template", "autoreply.txt"),
            autoreply_interval_minutes=self.integer(section, "autoreply_interval_minutes", 60, 0, 7 * 24 * 60),
            charset=self.choice(section, "charset", MAIL_CHARSETS, "utf-8"),
            attachments=tuple(parse_list(self.get(section, "attachments"))),
            attachment_types=tuple(t.lower().lstrip(".") for t in parse_list(
                self.get(section, "attachment_types", "pdf, jpg, jpeg, png"))),
            max_attachment_size=self.integer(section, "max_attachment_size", 2_000_000, 1, 100_000_000),
        )

    def _check_subject(self, section, subject, names):
        from formmail.message import SubjectTemplateError, check_subject_template

        try:
            check_subject_template(subject, names)
        except SubjectTemplateError as e:
            self.error(section, "subject", str(e))
