"""doctor: one report line per check, the exact fix, and the exit status for each failure kind,
against zones modelled on real shared hosts served by a real DNS server on 127.0.0.1."""

import os
import subprocess
import sys

import pytest

from conftest import write_config
from formmail.config import load_config
from formmail.doctor import FAIL, OK, WARN, exit_status, new_record, render, run_checks
from hostzones import RELAY_IP, SERVER_IP, STRANGER_IP

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def server(host_dns):
    return host_dns


@pytest.fixture
def sendmail(tmp_path):
    path = tmp_path / "sendmail"
    path.write_text("#!/bin/sh\nexit 0\n")
    path.chmod(0o755)
    return path


def doctor(server, tmp_path, sendmail, ip=SERVER_IP, **formmail):
    recipients = formmail.pop("recipients", "owner@yamada.example")
    settings = {"sender": "form@yamada.example", "transport": "sendmail",
                "sendmail_path": str(sendmail), **formmail}
    config = load_config(write_config(tmp_path, formmail=settings, form={"recipients": recipients}))
    checks = run_checks(config, ip, "given with --ip", server.resolver(lifetime=1.0), lifetime=1.0)
    return {c.name: c for c in checks}, checks


def test_all_good(server, tmp_path, sendmail):
    by_name, checks = doctor(server, tmp_path, sendmail)
    assert [c.status for c in checks] == [OK] * len(checks), render(checks)
    assert "SPF passes for yamada.example (envelope sender) from 203.0.113.34" in by_name["SPF yamada.example"].message
    assert "p=quarantine" in by_name["DMARC"].message
    assert exit_status(checks) == 0


def test_server_not_in_spf_gets_the_exact_record(server, tmp_path, sendmail):
    by_name, checks = doctor(server, tmp_path, sendmail, ip=STRANGER_IP)
    spf = by_name["SPF yamada.example"]
    assert spf.status == FAIL and "softfails" in spf.message
    assert spf.fix == ("replace the TXT record of yamada.example with:  v=spf1 +a:sv1234.xserver.example "
                       "+a:yamada.example +mx include:spf.sender.xserver.example ip4:192.0.2.99 ~all")
    assert exit_status(checks) == 1


def test_missing_spf_record_gets_a_new_one(server, tmp_path, sendmail):
    by_name, checks = doctor(server, tmp_path, sendmail, sender="form@norecord.example",
                             recipients="owner@norecord.example")
    spf = by_name["SPF norecord.example"]
    assert spf.status == FAIL and spf.message.startswith("norecord.example has no SPF record")
    assert spf.fix.startswith("add a TXT record of norecord.example with:  v=spf1 ip4:203.0.113.34 ~all")
    dmarc = by_name["DMARC"]
    assert dmarc.status == WARN and "v=DMARC1; p=none" in dmarc.fix
    assert exit_status(checks) == 1


def test_record_over_the_lookup_limit(server, tmp_path, sendmail):
    by_name, _ = doctor(server, tmp_path, sendmail, sender="form@toomany.example", recipients="o@yamada.example")
    spf = by_name["SPF toomany.example"]
    assert spf.status == FAIL and "broken" in spf.message and "more than 10 DNS lookups" in spf.fix


def test_two_spf_records(server, tmp_path, sendmail):
    by_name, _ = doctor(server, tmp_path, sendmail, sender="form@twice.example", recipients="o@yamada.example")
    assert "merge them into one" in by_name["SPF twice.example"].fix


def test_dns_time_out_is_a_warning(server, tmp_path, sendmail):
    by_name, checks = doctor(server, tmp_path, sendmail, sender="form@slow.example", recipients="o@yamada.example")
    spf = by_name["SPF slow.example"]
    assert spf.status == WARN and "could not be checked" in spf.message
    assert spf.status != FAIL


def test_envelope_on_another_domain_breaks_dmarc(server, tmp_path, sendmail):
    by_name, checks = doctor(server, tmp_path, sendmail, sender="form@shop.tanaka.example",
                             envelope_sender="bounce@tanaka.example", recipients="o@yamada.example")
    dmarc = by_name["DMARC"]
    assert dmarc.status == FAIL and "strict (aspf=s)" in dmarc.message
    assert dmarc.fix == "leave envelope_sender empty, or use an address on shop.tanaka.example"
    assert by_name["SPF tanaka.example"].status == OK and by_name["SPF shop.tanaka.example"].status == OK


def test_relaxed_alignment_on_a_subdomain(server, tmp_path, sendmail):
    by_name, _ = doctor(server, tmp_path, sendmail, envelope_sender="bounce@mail.yamada.example")
    assert by_name["DMARC"].status == OK


def test_free_mail_sender(server, tmp_path, sendmail):
    by_name, checks = doctor(server, tmp_path, sendmail, sender="shop.owner@gmail.com")
    c = by_name["From domain"]
    assert c.status == FAIL and "free-mail domain gmail.com" in c.message and exit_status(checks) == 1


def test_recipient_domain_without_mx(server, tmp_path, sendmail):
    by_name, _ = doctor(server, tmp_path, sendmail, recipients="owner@nomx.example")
    assert by_name["MX nomx.example"].status == FAIL


def test_missing_sendmail(server, tmp_path, sendmail):
    by_name, _ = doctor(server, tmp_path, sendmail, sendmail_path=str(tmp_path / "nope"))
    assert by_name["transport"].status == FAIL and "sendmail_path" in by_name["transport"].fix


def test_unwritable_log_folder(server, tmp_path, sendmail):
    by_name, _ = doctor(server, tmp_path, sendmail, log_dir="/proc/formmail-data")
    assert by_name["log folder"].status == FAIL


def test_unknown_ip_is_a_warning_with_advice(server, tmp_path, sendmail):
    config = load_config(write_config(tmp_path, formmail={"sender": "form@yamada.example",
                                                          "sendmail_path": str(sendmail), "transport": "sendmail"}))
    checks = run_checks(config, None, "no public address", server.resolver(), lifetime=1.0)
    spf = [c for c in checks if c.name.startswith("SPF")]
    assert spf and all(c.status == WARN and "--ip" in c.fix for c in spf)


@pytest.mark.parametrize("current, expected", [
    (None, "v=spf1 ip4:192.0.2.9 ~all"),
    ("v=spf1 mx -all", "v=spf1 mx ip4:192.0.2.9 -all"),
    ("v=spf1 include:x.example ?all", "v=spf1 include:x.example ip4:192.0.2.9 ?all"),
    ("v=spf1 redirect=_spf.x.example", "v=spf1 ip4:192.0.2.9 redirect=_spf.x.example"),
])
def test_new_record(current, expected):
    assert new_record(current, "192.0.2.9") == expected
    assert new_record(None, "2001:db8::9") == "v=spf1 ip6:2001:db8::9 ~all"


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "formmail", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=60)


def test_doctor_command(server, tmp_path, sendmail):
    path = write_config(tmp_path, formmail={"sender": "form@yamada.example", "transport": "sendmail",
                                            "sendmail_path": str(sendmail)},
                        form={"recipients": "owner@yamada.example"})
    good = run_cli("-c", str(path), "doctor", "--ip", RELAY_IP, "--nameserver", f"127.0.0.1:{server.port}")
    assert good.returncode == 0, good.stdout
    assert "[ok  ] SPF yamada.example: SPF passes" in good.stdout and "0 failed" in good.stdout
    bad = run_cli("-c", str(path), "doctor", "--ip", STRANGER_IP, "--nameserver", f"127.0.0.1:{server.port}")
    assert bad.returncode == 1 and "fix: replace the TXT record of yamada.example" in bad.stdout
    broken = write_config(tmp_path, formmail={"transport": "pigeon"})
    assert run_cli("-c", str(broken), "doctor").returncode == 2


def test_spf_command(server):
    ns = f"127.0.0.1:{server.port}"
    ok = run_cli("spf", "yamada.example", SERVER_IP, "--nameserver", ns)
    assert ok.returncode == 0 and "SPF pass for yamada.example" in ok.stdout and "matched: +a:sv1234" in ok.stdout
    no = run_cli("spf", "yamada.example", STRANGER_IP, "--nameserver", ns)
    assert no.returncode == 1 and "SPF softfail" in no.stdout
    bad = run_cli("spf", "yamada.example", "not-an-ip")
    assert bad.returncode == 2


def test_web_page_only_with_a_password(server, tmp_path, sendmail):
    from werkzeug.test import Client

    from conftest import RecordingTransport
    from formmail.app import FormMail

    secret, smtp_secret = "correct horse battery", "smtp-secret-value"
    path = write_config(tmp_path, formmail={"sender": "form@yamada.example", "sendmail_path": str(sendmail),
                                            "transport": "sendmail", "smtp_password": smtp_secret})
    off = Client(FormMail(load_config(path), transport=RecordingTransport()))
    assert off.get("/doctor").status_code == 404
    assert off.post("/doctor", data={"password": ""}).status_code == 404

    path = write_config(tmp_path, formmail={"sender": "form@yamada.example", "sendmail_path": str(sendmail),
                                            "transport": "sendmail", "smtp_password": smtp_secret,
                                            "doctor_password": secret})
    client = Client(FormMail(load_config(path), transport=RecordingTransport()))
    page = client.get("/doctor")
    assert page.status_code == 200 and 'type="password"' in page.get_data(as_text=True)
    wrong = client.post("/doctor", data={"password": secret[:-1]})
    assert wrong.status_code == 403 and "SPF" not in wrong.get_data(as_text=True)
    report = client.post("/doctor", data={"password": secret, "ip": STRANGER_IP})
    text = report.get_data(as_text=True)
    assert report.status_code == 200 and report.headers["Cache-Control"] == "no-store"
    assert "transport" in text and "From domain" in text
    assert secret not in text and smtp_secret not in text


def test_short_doctor_password_refused(tmp_path):
    from formmail.errors import ConfigInvalid

    with pytest.raises(ConfigInvalid, match=r"\[formmail\] doctor_password: must be at least 12"):
        load_config(write_config(tmp_path, formmail={"doctor_password": "hunter2"}))


def test_password_guessing_is_rate_limited(tmp_path, sendmail):
    from werkzeug.test import Client

    from conftest import RecordingTransport
    from formmail.app import FormMail

    path = write_config(tmp_path, formmail={"sendmail_path": str(sendmail), "transport": "sendmail",
                                            "doctor_password": "a long enough secret",
                                            "max_posts_per_client": "3"})
    client = Client(FormMail(load_config(path), transport=RecordingTransport()))
    statuses = [client.post("/doctor", data={"password": f"guess {i}"}).status_code for i in range(5)]
    assert statuses == [403, 403, 403, 429, 429]
