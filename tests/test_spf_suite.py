"""The RFC 7208 conformance suite (openspf.org, BSD licence: tests/data/rfc7208-tests.LICENSE),
all 203 tests, each run by check_host against a real DNS server on 127.0.0.1 serving its zone."""

from pathlib import Path

import pytest
import yaml

from dnsserver import DNSServer
from formmail.spf import check_host

SUITE = Path(__file__).parent / "data" / "rfc7208-tests.yml"
OLD_NAMES = {"unknown": "permerror", "error": "temperror"}  # results named in older drafts


def load_cases():
    cases = []
    for scenario in yaml.safe_load_all(SUITE.read_text(encoding="utf-8")):
        for name, test in scenario["tests"].items():
            cases.append(pytest.param(scenario["zonedata"], test, id=f"{scenario['description']}/{name}"))
    return cases


CASES = load_cases()


def test_the_whole_suite_is_here():
    assert len(CASES) == 203


@pytest.fixture(scope="module")
def dns_server():
    server = DNSServer()
    yield server
    server.close()


@pytest.mark.parametrize("zonedata, case", CASES)
def test_rfc7208(dns_server, zonedata, case):
    dns_server.load(zonedata)
    mailfrom, helo = case["mailfrom"], case["helo"]
    if mailfrom:
        sender, domain = mailfrom, mailfrom.rpartition("@")[2]
    else:
        sender, domain = f"postmaster@{helo}", helo
    result = check_host(case["host"], domain, sender, helo=helo,
                        resolver=dns_server.resolver(lifetime=0.5), lifetime=0.5)
    expected = case["result"] if isinstance(case["result"], list) else [case["result"]]
    expected = [OLD_NAMES.get(r, r) for r in expected]
    assert result.result in expected, f"{result} ({case.get('description', '')})"
    if "explanation" in case:
        assert (result.explanation or "DEFAULT") == case["explanation"]
