"""SPF evaluation per RFC 7208 (check_host) on dnspython: every mechanism, macros and limits."""

import ipaddress
import re
import time
import urllib.parse
from dataclasses import dataclass

RESULTS = ("pass", "fail", "softfail", "neutral", "none", "permerror", "temperror")
QUALIFIERS = {"+": "pass", "-": "fail", "~": "softfail", "?": "neutral"}
MAX_DNS_TERMS = 10     # RFC 7208 4.6.4: include, a, mx, ptr, exists and redirect
MAX_VOID_LOOKUPS = 2   # RFC 7208 4.6.4: lookups answered NXDOMAIN or with no records
MAX_MX_NAMES = 10      # an MX lookup with more names is a permerror
MAX_PTR_NAMES = 10     # PTR names past the tenth are ignored
MAX_DOMAIN = 253
DEFAULT_LIFETIME = 5.0  # seconds a whole DNS query may take before it is a temperror

_MECHANISMS = ("all", "include", "a", "mx", "ptr", "ip4", "ip6", "exists")
_MODIFIER = re.compile(r"([A-Za-z][A-Za-z0-9_.-]*)=(.*)\Z", re.S)
_MECHANISM = re.compile(r"([+\-~?]?)([A-Za-z][A-Za-z0-9_.-]*)(.*)\Z", re.S)
_CIDR = re.compile(r"(?P<spec>.*?)(?:/(?P<c4>\d+))?(?://(?P<c6>\d+))?\Z", re.S)
_CIDR_NUMBER = re.compile(r"(0|[1-9]\d{0,2})\Z")
_MACRO = re.compile(r"\{([slodiphcrtvSLODIPHCRTV])(\d*)([rR]?)([.\-+,/_=]*)\}")
_TOPLABEL = re.compile(r"(?=[A-Za-z0-9-]*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")
_UNRESERVED = "-._~"


@dataclass(frozen=True)
class SPFResult:
    """The answer of check_host: `result`, the `exp=` text for a fail, and what decided it."""

    result: str
    explanation: str = None
    matched: str = None   # the mechanism that matched, as written, e.g. "include:_spf.example.net"
    domain: str = None    # the domain whose record holds it
    record: str = None    # the SPF record of the domain asked about
    detail: str = ""      # why, for none, neutral, permerror and temperror


class PermError(Exception):
    """The SPF records are broken (syntax, limits, missing include target)."""


class TempError(Exception):
    """A DNS lookup failed for now (time-out, server failure)."""


@dataclass(frozen=True)
class _Term:
    qualifier: str
    name: str
    spec: str = None   # domain-spec, or the address for ip4/ip6
    cidr4: int = 32
    cidr6: int = 128
    text: str = ""


@dataclass
class _Record:
    text: str
    directives: list
    redirect: str = None
    exp: str = None

    @property
    def has_all(self):
        return any(d.name == "all" for d in self.directives)


class DNS:
    """The lookups SPF needs, over a dns.resolver.Resolver; failures become Temp/PermError."""

    def __init__(self, resolver=None, lifetime=DEFAULT_LIFETIME):
        import dns.resolver

        self.resolver = resolver or dns.resolver.Resolver()
        self.lifetime = lifetime

    def query(self, name, rdtype):
        """Records of `rdtype` at `name`: [] for NXDOMAIN or none; TempError for failures."""
        import dns.exception
        import dns.name
        import dns.resolver

        try:
            # Labels as given, octet for octet: a macro can put spaces or "%" in a name.
            qname = dns.name.Name([label.encode("latin-1") for label in name.rstrip(".").split(".")] + [b""])
        except (dns.exception.DNSException, ValueError, UnicodeError):
            return []  # a name DNS cannot hold has no records
        try:
            answer = self.resolver.resolve(qname, rdtype, search=False, raise_on_no_answer=False,
                                           lifetime=self.lifetime)
        except (dns.resolver.NXDOMAIN, dns.resolver.NoAnswer):
            return []
        except (dns.exception.Timeout, dns.resolver.NoNameservers) as e:
            raise TempError(f"DNS lookup of {name} {rdtype} failed: {type(e).__name__}") from None
        except dns.exception.DNSException as e:
            raise TempError(f"DNS lookup of {name} {rdtype} failed: {e}") from None
        return list(answer.rrset) if answer.rrset is not None else []

    def txt(self, name):
        return ["".join(s.decode("latin-1") for s in r.strings) for r in self.query(name, "TXT")]

    def addresses(self, name, version):
        rdtype = "A" if version == 4 else "AAAA"
        return [ipaddress.ip_address(r.address) for r in self.query(name, rdtype)]

    def mx(self, name):
        return [r.exchange.to_text(omit_final_dot=True) for r in self.query(name, "MX")]

    def ptr(self, ip):
        from dns.reversename import from_address

        return [r.target.to_text(omit_final_dot=True) for r in self.query(str(from_address(str(ip))), "PTR")]


def check_host(ip, domain, sender, helo=None, resolver=None, lifetime=DEFAULT_LIFETIME,
               receiver="unknown"):
    """RFC 7208 check_host(): may `ip` send mail for `domain`, with MAIL FROM `sender`?

    `resolver` is a dns.resolver.Resolver (default: the system's). With an empty `sender`,
    the HELO identity is checked: pass helo as `domain` and `postmaster@helo` as sender.
    """
    client = ipaddress.ip_address(ip)
    if client.version == 6 and client.ipv4_mapped:
        client = client.ipv4_mapped
    local, at, sender_domain = (sender or "").rpartition("@")
    if not at:
        local, sender_domain = "", sender or domain
    context = _Context(client, local or "postmaster", sender_domain, helo, DNS(resolver, lifetime), receiver)
    # %{i} of an IPv6 address keeps the case of its hex digits as written, as the reference
    # implementation does (DNS names compare without case, so only exp= text can show it).
    context.upper_nibbles = any(c in "ABCDEF" for c in str(ip))
    if domain and domain.endswith(".") and not domain.endswith(".."):
        domain = domain[:-1]  # a fully qualified name; ".." stays, to be refused below
    if not _valid_domain(domain):
        return SPFResult("none", detail=f"{domain!r} is not a domain name SPF can check")
    try:
        outcome = context.check(domain)
    except PermError as e:
        return SPFResult("permerror", detail=str(e), record=context.top_record)
    except TempError as e:
        return SPFResult("temperror", detail=str(e), record=context.top_record)
    result, term, decided_in, record = outcome
    explanation = None
    if result == "fail" and record and record.exp:
        explanation = context.explain(record.exp, decided_in)
    detail = {"none": f"{domain} publishes no SPF record",
              "neutral": "no mechanism matched"}.get(result, "")
    return SPFResult(result, explanation, term.text if term else None, decided_in,
                     context.top_record, detail)


def _valid_domain(domain):
    """RFC 7208 4.3: a multi-label name whose labels are 1 to 63 octets."""
    if not domain or len(domain) > MAX_DOMAIN or "." not in domain.strip("."):
        return False
    return all(0 < len(label) <= 63 for label in domain.rstrip(".").split("."))


class _Context:
    """One check_host() evaluation: the client, the sender, the DNS and the shared limits."""

    def __init__(self, client, local, sender_domain, helo, dns, receiver):
        self.client = client
        self.local = local
        self.sender_domain = sender_domain
        self.helo = helo
        self.dns = dns
        self.receiver = receiver
        self.dns_terms = 0
        self.void_lookups = 0
        self.top_record = None
        self._validated_name = None
        self.upper_nibbles = False

    # -- limits ----------------------------------------------------------------------
    def count_term(self, name):
        self.dns_terms += 1
        if self.dns_terms > MAX_DNS_TERMS:
            raise PermError(f"more than {MAX_DNS_TERMS} DNS-querying terms (at {name})")

    def count_void(self, answers, what):
        if not answers:
            self.void_lookups += 1
            if self.void_lookups > MAX_VOID_LOOKUPS:
                raise PermError(f"more than {MAX_VOID_LOOKUPS} lookups found nothing (at {what})")
        return answers

    # -- evaluation --------------------------------------------------------------------
    def check(self, domain):
        """(result, matched term, domain that decided, its record); raises Perm/TempError."""
        records = [r for r in self.dns.txt(domain) if _is_spf(r)]
        if not records:
            return "none", None, domain, None
        if len(records) > 1:
            raise PermError(f"{domain} publishes {len(records)} SPF records; there must be one")
        record = parse_record(records[0])
        if self.top_record is None:
            self.top_record = records[0]
        for term in record.directives:
            if self.matches(term, domain):
                return QUALIFIERS[term.qualifier], term, domain, record
        if record.redirect and not record.has_all:
            self.count_term("redirect")
            target = self.target(record.redirect, domain)
            if not _valid_domain(target):
                raise PermError(f"redirect={record.redirect} names no valid domain")
            result = self.check(target)
            if result[0] == "none":
                raise PermError(f"redirect target {target} has no SPF record")
            return result
        return "neutral", None, domain, record

    def matches(self, term, domain):
        name = term.name
        if name == "all":
            return True
        if name in ("ip4", "ip6"):
            network = ipaddress.ip_network(f"{term.spec}/{term.cidr4 if name == 'ip4' else term.cidr6}",
                                           strict=False)
            return self.client.version == network.version and self.client in network
        self.count_term(term.text)
        target = self.target(term.spec, domain) if term.spec else domain
        if name == "include":
            result = self.check(target) if _valid_domain(target) else ("none",)
            if result[0] in ("none",):
                raise PermError(f"include:{target} has no SPF record")
            return result[0] == "pass"
        if name == "exists":
            return bool(self.count_void(self.dns.addresses(target, 4), term.text))
        if name == "a":
            return self.in_networks(self.count_void(self.dns.addresses(target, self.client.version),
                                                    term.text), term)
        if name == "mx":
            exchanges = self.count_void(self.dns.mx(target), term.text)
            if len(exchanges) > MAX_MX_NAMES:
                raise PermError(f"{term.text}: {target} has more than {MAX_MX_NAMES} MX records")
            return any(self.in_networks(self.dns.addresses(mx, self.client.version), term)
                       for mx in exchanges if mx)
        if name == "ptr":
            return any(_within(n, target) for n in self.validated_names(target))
        raise PermError(f"unknown mechanism {term.text}")  # parse_record lets none through

    def in_networks(self, addresses, term):
        prefix = term.cidr4 if self.client.version == 4 else term.cidr6
        return any(ipaddress.ip_network(f"{a}/{prefix}", strict=False).__contains__(self.client)
                   for a in addresses if a.version == self.client.version)

    def validated_names(self, prefer=None):
        """PTR names of the client whose addresses include it (RFC 7208 5.5); DNS errors skip."""
        try:
            names = self.dns.ptr(self.client)[:MAX_PTR_NAMES]
        except TempError:
            return []
        valid = []
        for name in names:
            try:
                if self.client in self.dns.addresses(name, self.client.version):
                    valid.append(name)
            except TempError:
                continue
        if prefer:
            valid.sort(key=lambda n: not _within(n, prefer))
        return valid

    def explain(self, exp, domain):
        """The exp= text for a fail, or None when it cannot be had (RFC 7208 6.2)."""
        try:
            target = self.target(exp, domain)
            texts = self.dns.txt(target) if _valid_domain(target) else []
            if len(texts) != 1 or not texts[0].isascii():  # RFC 7208 6.2: ASCII text only
                return None
            return self.expand(texts[0], domain, explanation=True)
        except (PermError, TempError):
            return None

    # -- macros (RFC 7208 7) -------------------------------------------------------------
    def target(self, spec, domain):
        """A domain-spec expanded into a name, shortened from the left to 253 octets."""
        name = self.expand(spec, domain)
        if spec.endswith("."):
            name = name[:-1]
        while len(name) > MAX_DOMAIN and "." in name:
            name = name.split(".", 1)[1]
        return name

    def expand(self, text, domain, explanation=False):
        out, i = [], 0
        while i < len(text):
            ch = text[i]
            if ch != "%":
                out.append(ch)
                i += 1
                continue
            nxt = text[i + 1:i + 2]
            if nxt == "%":
                out.append("%")
            elif nxt == "_":
                out.append(" ")
            elif nxt == "-":
                out.append("%20")
            elif nxt == "{":
                m = _MACRO.match(text, i + 1)
                if not m:
                    raise PermError(f"bad macro at {text[i:i + 12]!r}")
                out.append(self.macro(m, domain, explanation))
                i = m.end()
                continue
            else:
                raise PermError(f"bad macro at {text[i:i + 4]!r}")
            i += 2
        return "".join(out)

    def macro(self, m, domain, explanation):
        letter, digits, reverse, delimiters = m.groups()
        key = letter.lower()
        if key in "crt" and not explanation:
            raise PermError(f"macro %{{{letter}}} is allowed only in exp= text")
        value = self.macro_value(key, domain)
        parts = re.split("[" + re.escape(delimiters or ".") + "]", value)
        if reverse:
            parts.reverse()
        if digits:
            keep = int(digits)
            if keep == 0:
                raise PermError("macro transformer 0 keeps nothing")
            parts = parts[-keep:]
        value = ".".join(parts)
        if letter.isupper():
            value = urllib.parse.quote(value, safe=_UNRESERVED)
        return value

    def macro_value(self, key, domain):
        client = self.client
        if key == "s":
            return f"{self.local}@{self.sender_domain}"
        if key == "l":
            return self.local
        if key == "o":
            return self.sender_domain
        if key == "d":
            return domain
        if key == "i":
            if client.version == 4:
                return str(client)
            nibbles = client.exploded.replace(":", "")
            return ".".join(nibbles.upper() if self.upper_nibbles else nibbles)
        if key == "p":
            if self._validated_name is None:
                names = self.validated_names(prefer=domain)
                self._validated_name = names[0] if names else "unknown"
            return self._validated_name
        if key == "v":
            return "in-addr" if client.version == 4 else "ip6"
        if key == "h":
            return self.helo or "unknown"
        if key == "c":
            return str(client)
        if key == "r":
            return self.receiver
        return str(int(time.time()))  # "t"


def _is_spf(text):
    return text[:6].lower() == "v=spf1" and (len(text) == 6 or text[6] == " ")


def _within(name, domain):
    name, domain = name.lower().rstrip("."), domain.lower().rstrip(".")
    return name == domain or name.endswith("." + domain)


def parse_record(text):
    """Parse a whole SPF record; any syntax error anywhere is a PermError (RFC 7208 4.6)."""
    directives, modifiers = [], {}
    for raw in text[6:].split(" "):
        if not raw:
            continue
        if not raw.isascii() or not raw.isprintable():
            raise PermError(f"the term {raw!r} holds characters SPF does not allow")
        mech = _MECHANISM.match(raw)
        if mech and mech.group(2).lower() in _MECHANISMS and not mech.group(3).startswith("="):
            directives.append(_parse_mechanism(raw, *mech.groups()))
            continue
        mod = _MODIFIER.match(raw)
        if not mod:
            raise PermError(f"{raw!r} is neither a mechanism nor a modifier")
        name, value = mod.group(1).lower(), mod.group(2)
        _check_macro_string(value, raw)
        if name in ("redirect", "exp"):
            if name in modifiers:
                raise PermError(f"{name}= appears twice")
            _check_domain_spec(value, raw)
            modifiers[name] = value
    return _Record(text, directives, modifiers.get("redirect"), modifiers.get("exp"))


def _parse_mechanism(raw, qualifier, name, rest):
    name = name.lower()
    qualifier = qualifier or "+"
    if name == "all":
        if rest:
            raise PermError(f"{raw!r}: all takes no argument")
        return _Term(qualifier, name, text=raw)
    if name in ("include", "exists"):
        if not rest.startswith(":") or len(rest) < 2:
            raise PermError(f"{raw!r}: {name} needs a domain")
        _check_domain_spec(rest[1:], raw)
        return _Term(qualifier, name, rest[1:], text=raw)
    if name in ("ip4", "ip6"):
        if not rest.startswith(":"):
            raise PermError(f"{raw!r}: {name} needs an address")
        address, slash, cidr = rest[1:].partition("/")
        try:
            parsed = ipaddress.ip_address(address)
        except ValueError:
            raise PermError(f"{raw!r}: {address!r} is not an IPv{name[-1]} address") from None
        if parsed.version != int(name[-1]) or (name == "ip6" and "." in address and "::" not in address
                                               and not address.count(":")):
            raise PermError(f"{raw!r}: {address!r} is not an IPv{name[-1]} address")
        prefix = _cidr(cidr, 32 if name == "ip4" else 128, raw) if slash else (32 if name == "ip4" else 128)
        return _Term(qualifier, name, address, prefix if name == "ip4" else 32,
                     prefix if name == "ip6" else 128, raw)
    # a, mx, ptr: [":" domain-spec] and, but for ptr, a dual CIDR length
    spec = None
    if rest and not rest.startswith((":", "/")):
        raise PermError(f"{raw!r} is not a valid mechanism")
    m = _CIDR.match(rest) if name != "ptr" else None
    c4 = c6 = None
    if m and (m.group("c4") is not None or m.group("c6") is not None):
        rest, c4, c6 = m.group("spec"), m.group("c4"), m.group("c6")
    if rest:
        if not rest.startswith(":") or len(rest) < 2:
            raise PermError(f"{raw!r} is not a valid mechanism")
        spec = rest[1:]
        _check_domain_spec(spec, raw)
    return _Term(qualifier, name, spec,
                 _cidr(c4, 32, raw) if c4 is not None else 32,
                 _cidr(c6, 128, raw) if c6 is not None else 128, raw)


def _cidr(text, maximum, raw):
    if not _CIDR_NUMBER.match(text or "") or int(text) > maximum:
        raise PermError(f"{raw!r}: /{text} is not a prefix length from 0 to {maximum}")
    return int(text)


def _check_macro_string(value, raw):
    i = 0
    while i < len(value):
        if value[i] == "%":
            nxt = value[i + 1:i + 2]
            if nxt in ("%", "_", "-"):
                i += 2
                continue
            m = _MACRO.match(value, i + 1) if nxt == "{" else None
            if not m:
                raise PermError(f"{raw!r}: bad macro")
            i = m.end()
            continue
        i += 1


def _check_domain_spec(spec, raw):
    """domain-spec = macro-string domain-end, where domain-end is "." toplabel ["."] or a macro."""
    _check_macro_string(spec, raw)
    for m in _MACRO.finditer(spec):
        if m.group(1).lower() in "crt":
            raise PermError(f"{raw!r}: %{{{m.group(1)}}} is allowed only in exp= text")
    if spec.endswith("}") and _MACRO.search(spec):
        tail = spec[spec.rfind("%{"):]
        if _MACRO.fullmatch(tail[1:]):
            return
    body = spec[:-1] if spec.endswith(".") else spec
    top = body.rsplit(".", 1)
    if len(top) != 2 or not _TOPLABEL.match(top[1]):
        raise PermError(f"{raw!r}: {spec!r} does not end in a valid top-level label")
