"""Finds the DMARC policy of a domain by the DNS tree walk of the DMARC revision, and judges
whether formmail's envelope sender aligns with its From domain."""

from dataclasses import dataclass, field

MAX_WALK = 8  # DMARCbis 4.10.1: at most eight queries; a longer name starts at its last seven labels


@dataclass(frozen=True)
class Policy:
    """A DMARC record: where it was found, its tags, and which policy applies to the domain."""

    domain: str          # the domain asked about
    found_at: str        # where the record is (the domain itself or an ancestor)
    record: str
    tags: dict = field(default_factory=dict)

    @property
    def p(self):
        return self.tags.get("p", "none")

    @property
    def applied(self):
        """The policy for the asked domain: sp= (then p=) when the record is an ancestor's."""
        if self.found_at != self.domain:
            return self.tags.get("sp", self.p)
        return self.p

    @property
    def aspf(self):
        return "s" if self.tags.get("aspf", "r").lower() == "s" else "r"

    @property
    def pct(self):
        try:
            return int(self.tags.get("pct", "100"))
        except ValueError:
            return 100


def walk(domain):
    """The names whose _dmarc records are looked at, nearest first (never the bare TLD)."""
    labels = domain.lower().rstrip(".").split(".")
    names = [".".join(labels)]
    if len(labels) > MAX_WALK:
        labels = labels[-(MAX_WALK - 1):]
        names.append(".".join(labels))
    while len(labels) > 2 and len(names) < MAX_WALK:
        labels = labels[1:]
        names.append(".".join(labels))
    return names


def parse(text):
    """Tags of a DMARC record, or None when it is not one (it must start with v=DMARC1)."""
    parts = [p.strip() for p in text.split(";")]
    if not parts or parts[0].replace(" ", "") != "v=DMARC1":
        return None
    tags = {}
    for part in parts[1:]:
        name, eq, value = part.partition("=")
        if eq and name.strip():
            tags[name.strip().lower()] = value.strip()
    return tags


def records_at(name, dns):
    """The DMARC records at _dmarc.NAME (TempError from DNS passes through)."""
    found = []
    for text in dns.txt(f"_dmarc.{name}"):
        tags = parse(text)
        if tags is not None:
            found.append((text, tags))
    return found


def find_policy(domain, dns):
    """The Policy that applies to `domain`, or None when no record is found on the walk."""
    for name in walk(domain):
        found = records_at(name, dns)
        if len(found) == 1:  # several records: none of them counts (RFC 7489 6.6.3)
            text, tags = found[0]
            return Policy(domain.lower().rstrip("."), name, text, tags)
    return None


def organisational_domain(domain, dns):
    """The Organizational Domain by the tree walk: the shortest name on it with a DMARC record
    (psd=n marks it, psd=y marks a public suffix whose child is it); else the domain itself."""
    names = walk(domain)
    best = None
    for name in names:
        found = records_at(name, dns)
        if len(found) != 1:
            continue
        psd = found[0][1].get("psd", "").lower()
        if psd == "n":
            return name
        if psd == "y":
            index = names.index(name)
            return names[index - 1] if index > 0 else name
        best = name
    return best or domain.lower().rstrip(".")


def spf_aligned(from_domain, envelope_domain, mode, dns):
    """Whether SPF for `envelope_domain` counts for a From of `from_domain` under aspf `mode`."""
    a, b = from_domain.lower().rstrip("."), envelope_domain.lower().rstrip(".")
    if a == b:
        return True
    if mode == "s":
        return False
    return organisational_domain(a, dns) == organisational_domain(b, dns)
