"""Strict e-mail address syntax for every address formmail puts in a header or hands to an MTA."""

import re

# RFC 5321 limits: 64 octets of local part, 253 of domain, 254 in all (RFC 3696 erratum 1690).
MAX_LOCAL = 64
MAX_DOMAIN = 253
MAX_ADDRESS = 254

# Dot-atom of RFC 5322 atext, minus "%" and "!": those route mail through another host
# (the "%-hack", bang paths) and have no honest use in a visitor's address today.
_LOCAL = re.compile(r"[A-Za-z0-9#$&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9#$&'*+/=?^_`{|}~-]+)*\Z")
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z")


class AddressError(ValueError):
    """Not one plain address of the form local@domain.example."""


def normalize_address(text):
    """Return `text` as one plain ASCII address (IDN domains to punycode), or raise AddressError.

    Refused: display names, comments, quoted local parts, groups, several addresses,
    IP-literal domains, domains without a dot, any whitespace or control character.
    """
    if not isinstance(text, str) or not text:
        raise AddressError("empty")
    if text.count("@") != 1:
        raise AddressError("must contain exactly one @")
    local, domain = text.split("@")
    if not local.isascii() or not _LOCAL.match(local):
        raise AddressError("the part before @ has a character that is not allowed")
    if len(local) > MAX_LOCAL:
        raise AddressError("the part before @ is too long")
    domain = _ascii_domain(domain)
    address = f"{local}@{domain}"
    if len(address) > MAX_ADDRESS:
        raise AddressError("too long")
    return address


def _ascii_domain(domain):
    domain = domain[:-1] if domain.endswith(".") else domain
    if not domain.isascii():
        try:
            domain = domain.encode("idna").decode("ascii")
        except UnicodeError:
            raise AddressError("the domain is not a valid name") from None
    labels = domain.split(".")
    if len(labels) < 2 or len(domain) > MAX_DOMAIN:
        raise AddressError("the domain is not a full name")
    if not all(_LABEL.match(label) for label in labels) or labels[-1].isdigit():
        raise AddressError("the domain is not a valid name")
    return domain.lower()


def domain_of(address):
    """The domain part of an address that normalize_address accepted."""
    return address.rpartition("@")[2]
