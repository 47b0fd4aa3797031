"""Recognises bot posts by their content: the honeypot field, many links, little text."""

import re

from formmail.errors import SpamDetected

_LINK = re.compile(r"(?:https?://|www\.)|\[url[=\]]|<a\s", re.I)


def check_honeypot(pairs, name):
    """A person never fills the field that CSS hides; a bot fills every field it finds."""
    if name and any(n == name and v.strip() for n, v in pairs):
        raise SpamDetected("honeypot", "the hidden field was filled")


def count_links(text):
    return len(_LINK.findall(text))


def nontext_share(text):
    """The share of characters that are neither letters (any script) nor spaces."""
    chars = [c for c in text if not c.isspace()]
    if not chars:
        return 0.0
    return sum(not c.isalpha() for c in chars) / len(chars)


def check_content(values, max_links, max_nontext_share):
    """SpamDetected for too many links or too little text in the submission's free text."""
    text = "\n".join(values)
    if max_links is not None and count_links(text) > max_links:
        raise SpamDetected("links", f"{count_links(text)} links (at most {max_links})")
    if max_nontext_share is not None and len(text) >= 20 and nontext_share(text) > max_nontext_share:
        raise SpamDetected("nontext", f"{nontext_share(text):.0%} of the text is not letters")
