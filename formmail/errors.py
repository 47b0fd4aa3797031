"""Typed errors of formmail; each visitor-facing one carries its HTTP status and message code."""


class FormmailError(Exception):
    """Base of every error formmail raises on purpose."""


class ConfigError(FormmailError):
    """One mistake in the config, naming the section and key it is about."""

    def __init__(self, section, key, message):
        self.section = section
        self.key = key
        self.message = message
        where = f"[{section}] {key}" if key else f"[{section}]"
        super().__init__(f"{where}: {message}")


class ConfigInvalid(FormmailError):
    """The config has one or more mistakes; `errors` lists them all."""

    def __init__(self, path, errors):
        self.path = path
        self.errors = list(errors)
        lines = "\n".join(f"  - {e}" for e in self.errors)
        super().__init__(f"{path}: {len(self.errors)} problem(s):\n{lines}")


class RequestError(FormmailError):
    """A request formmail refuses; `code` picks the visitor's message, `status` the HTTP status."""

    status = 400
    code = "bad_request"

    def __init__(self, detail="", **params):
        self.params = params
        super().__init__(detail or self.code)


class MethodNotAllowed(RequestError):
    status = 405
    code = "method_not_allowed"


class LengthRequired(RequestError):
    status = 411
    code = "length_required"


class PayloadTooLarge(RequestError):
    status = 413
    code = "too_large"


class UnsupportedMediaType(RequestError):
    status = 415
    code = "unsupported_media_type"


class MalformedBody(RequestError):
    code = "malformed_body"


class TooManyFields(RequestError):
    status = 413
    code = "too_many_fields"


class UnknownCharset(RequestError):
    code = "unknown_charset"


class UnknownForm(RequestError):
    code = "unknown_form"


class Forbidden(RequestError):
    """A post from a site that is not allowed (Origin, else Referer)."""

    status = 403
    code = "origin_refused"


class TooManyRequests(RequestError):
    """Over a rate limit; `retry_after` seconds until a post is accepted again."""

    status = 429
    code = "too_many_requests"

    def __init__(self, detail, retry_after):
        self.retry_after = max(1, int(retry_after))
        super().__init__(detail, minutes=max(1, (self.retry_after + 59) // 60))


class FormExpired(RequestError):
    """The form's time token is missing, forged or too old: reload the page and send again."""

    code = "form_expired"


class SpamDetected(FormmailError):
    """A bot's post: it is answered like a success, and nothing is mailed or logged.
    `code` names the sign (for the spam log), the message says more."""

    def __init__(self, code, detail=""):
        self.code = code
        super().__init__(detail or code)


class FieldError:
    """What is wrong with one field: `code` selects the message, `params` fill it in."""

    __slots__ = ("field", "code", "params")

    def __init__(self, field, code, **params):
        self.field = field
        self.code = code
        self.params = params

    def __repr__(self):
        return f"FieldError({self.field!r}, {self.code!r}, {self.params!r})"

    def __eq__(self, other):
        return isinstance(other, FieldError) and (self.field, self.code, self.params) == (
            other.field, other.code, other.params)


class ValidationFailed(RequestError):
    """One or more fields are wrong; `errors` is a list of FieldError, `values` the input kept."""

    code = "invalid_fields"

    def __init__(self, errors, values=()):
        self.errors = list(errors)
        self.values = list(values)
        super().__init__("; ".join(f"{e.field}: {e.code}" for e in self.errors))


class HeaderInjection(RequestError):
    """A composed message failed the final header check; it is never sent or stored."""


class LogUnavailable(FormmailError):
    """The submission log cannot be written, so nothing may be mailed (HTTP 503)."""

    status = 503
    code = "log_unavailable"


class MailError(FormmailError):
    """The MTA did not accept a message; the detail is for the server log, not the visitor."""
