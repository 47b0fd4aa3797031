"""check_host and DMARC on zones modelled on real shared hosts, through a real DNS server."""

import pytest

from formmail.dmarc import find_policy, organisational_domain, spf_aligned
from formmail.spf import DNS, check_host
from hostzones import RELAY_IP, SERVER_IP, STRANGER_IP


@pytest.fixture(scope="module")
def server(host_dns):
    return host_dns


@pytest.fixture
def resolver(server):
    return server.resolver(lifetime=1.0)


@pytest.mark.parametrize("domain, ip, result, matched", [
    ("yamada.example", SERVER_IP, "pass", "+a:sv1234.xserver.example"),
    ("yamada.example", RELAY_IP, "pass", "include:spf.sender.xserver.example"),
    ("yamada.example", "2001:db8:100::25", "pass", "include:spf.sender.xserver.example"),
    ("yamada.example", "::ffff:" + RELAY_IP, "pass", "include:spf.sender.xserver.example"),
    ("yamada.example", STRANGER_IP, "softfail", "~all"),
    ("tanaka.example", SERVER_IP, "pass", "a:www9999.sakura.example"),
    ("tanaka.example", "192.0.2.20", "pass", "ip4:192.0.2.0/25"),
    ("tanaka.example", "192.0.2.200", "softfail", "~all"),
    ("norecord.example", SERVER_IP, "none", None),
    ("toomany.example", SERVER_IP, "permerror", None),
    ("twice.example", SERVER_IP, "permerror", None),
    ("slow.example", SERVER_IP, "temperror", None),
    ("absent.example", SERVER_IP, "none", None),
])
def test_check_host_on_shared_host_zones(resolver, domain, ip, result, matched):
    r = check_host(ip, domain, f"form@{domain}", resolver=resolver, lifetime=1.0)
    assert (r.result, r.matched) == (result, matched), r


def test_redirect_decides_in_the_target_record(resolver):
    r = check_host(SERVER_IP, "tanaka.example", "form@tanaka.example", resolver=resolver)
    assert r.domain == "_spf.sakura.example" and r.record == "v=spf1 redirect=_spf.sakura.example"


def test_limit_detail_names_the_limit(resolver):
    r = check_host(SERVER_IP, "toomany.example", "form@toomany.example", resolver=resolver)
    assert "more than 10 DNS-querying terms" in r.detail


def test_timeout_is_temperror_quickly(resolver):
    import time

    start = time.monotonic()
    r = check_host(SERVER_IP, "slow.example", "form@slow.example", resolver=resolver, lifetime=1.0)
    assert r.result == "temperror" and time.monotonic() - start < 5


def test_dmarc_at_the_domain(resolver):
    policy = find_policy("yamada.example", DNS(resolver))
    assert (policy.found_at, policy.p, policy.applied, policy.aspf, policy.pct) == (
        "yamada.example", "quarantine", "quarantine", "r", 100)


def test_dmarc_at_the_parent_applies_sp(resolver):
    policy = find_policy("shop.tanaka.example", DNS(resolver))
    assert (policy.found_at, policy.p, policy.applied, policy.aspf) == (
        "tanaka.example", "reject", "quarantine", "s")


def test_no_dmarc(resolver):
    assert find_policy("norecord.example", DNS(resolver)) is None


def test_alignment(resolver):
    dns = DNS(resolver)
    assert organisational_domain("mail.yamada.example", dns) == "yamada.example"
    assert spf_aligned("yamada.example", "mail.yamada.example", "r", dns)
    assert not spf_aligned("yamada.example", "mail.yamada.example", "s", dns)
    assert not spf_aligned("yamada.example", "tanaka.example", "r", dns)
    assert spf_aligned("shop.tanaka.example", "shop.tanaka.example", "s", dns)
