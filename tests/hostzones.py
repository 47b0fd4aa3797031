"""DNS zones modelled on real shared hosts, for the SPF, DMARC and doctor tests (served by
tests/dnsserver.py on 127.0.0.1). Addresses are from the documentation ranges."""

SERVER_IP = "203.0.113.34"      # the rental server that runs formmail (sv1234)
RELAY_IP = "198.51.100.7"       # the host's outgoing mail relay (in the include: range)
STRANGER_IP = "192.0.2.99"      # some other server

ZONES = {
    # Xserver-style: the web server by name, the MX, and the host's sender include.
    "yamada.example": [
        {"TXT": "v=spf1 +a:sv1234.xserver.example +a:yamada.example +mx include:spf.sender.xserver.example ~all"},
        {"A": SERVER_IP}, {"MX": [10, "yamada.example"]},
    ],
    "sv1234.xserver.example": [{"A": SERVER_IP}],
    "spf.sender.xserver.example": [{"TXT": "v=spf1 include:_n.spf.sender.xserver.example ~all"}],
    "_n.spf.sender.xserver.example": [{"TXT": "v=spf1 ip4:198.51.100.0/24 ip6:2001:db8:100::/48 ~all"}],
    "_dmarc.yamada.example": [{"TXT": "v=DMARC1; p=quarantine; rua=mailto:dmarc@yamada.example"}],
    "mail.yamada.example": [{"A": SERVER_IP}],
    # Sakura-style: everything by redirect to the host's record; DMARC only at the parent,
    # strict SPF alignment.
    "tanaka.example": [{"TXT": "v=spf1 redirect=_spf.sakura.example"}, {"MX": [10, "mx.tanaka.example"]}],
    "mx.tanaka.example": [{"A": "198.51.100.60"}],
    "_spf.sakura.example": [{"TXT": "v=spf1 ip4:192.0.2.0/25 a:www9999.sakura.example ~all"}],
    "www9999.sakura.example": [{"A": SERVER_IP}],
    "shop.tanaka.example": [{"TXT": "v=spf1 redirect=_spf.sakura.example"}],
    "_dmarc.tanaka.example": [{"TXT": "v=DMARC1; p=reject; sp=quarantine; aspf=s"}],
    # No SPF record at all (and no DMARC).
    "norecord.example": [{"A": "198.51.100.80"}, {"MX": [10, "norecord.example"]}],
    # More than 10 DNS-querying terms through an include chain.
    "toomany.example": [{"TXT": "v=spf1 include:i1.toomany.example -all"}],
    **{f"i{n}.toomany.example": [{"TXT": f"v=spf1 include:i{n + 1}.toomany.example -all"}] for n in range(1, 12)},
    "i12.toomany.example": [{"TXT": f"v=spf1 ip4:{SERVER_IP} -all"}],
    # A DNS server that never answers for this domain's TXT.
    "slow.example": [{"A": "198.51.100.90"}, {"MX": [10, "slow.example"]}, "TIMEOUT"],
    # Two SPF records: a classic mistake after switching hosts.
    "twice.example": [{"TXT": "v=spf1 include:spf.sender.xserver.example ~all"}, {"TXT": "v=spf1 a -all"}],
    # A recipient domain with neither MX nor address.
    "nomx.example": [{"TXT": "v=spf1 -all"}],
}
