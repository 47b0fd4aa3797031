"""Checks that mail from this server for the configured domain will be delivered, and says what
to fix: config, transport, log folder, SPF and DMARC in the real DNS, and recipients' MX."""

import ipaddress
import os
import socket
import stat
from dataclasses import dataclass

from formmail.address import domain_of

OK, WARN, FAIL = "ok", "warn", "fail"
# Free-mail providers publish strict DMARC policies: mail with their domain in From that does
# not come from their own servers is rejected or junked (Yahoo and Gmail since 2024).
FREE_MAIL_DOMAINS = {
    "gmail.com", "googlemail.com", "yahoo.com", "yahoo.co.jp", "ymail.com", "outlook.com",
    "outlook.jp", "hotmail.com", "hotmail.co.jp", "live.com", "live.jp", "msn.com", "icloud.com",
    "me.com", "mac.com", "aol.com", "gmx.com", "gmx.de", "gmx.net", "web.de", "mail.ru",
    "yandex.ru", "qq.com", "163.com", "126.com", "naver.com", "docomo.ne.jp", "ezweb.ne.jp",
    "au.com", "softbank.ne.jp", "i.softbank.jp", "ymobile.ne.jp", "nifty.com", "biglobe.ne.jp",
    "ocn.ne.jp", "so-net.ne.jp", "proton.me", "protonmail.com", "zoho.com",
}


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, ok/warn/fail, one sentence, and the fix."""

    name: str
    status: str
    message: str
    fix: str = ""


def run_checks(config, ip=None, ip_source="", resolver=None, lifetime=5.0):
    """Every check for a loaded config; `ip` is this server's sending address (or None)."""
    from formmail.spf import DNS

    dns = DNS(resolver, lifetime)
    checks = [Check("config", OK, f"{config.path} is valid ({len(config.forms)} form(s)).")]
    checks.append(check_transport(config))
    checks.append(check_log_dir(config))
    checks.append(check_free_mail(config))
    checks.extend(check_spf(config, ip, ip_source, resolver, lifetime))
    checks.append(check_dmarc(config, dns))
    checks.extend(check_recipients(config, dns))
    return checks


def check_transport(config):
    if config.transport == "sendmail":
        path = config.sendmail_path
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return Check("transport", OK, f"{path} is there and executable.")
        return Check("transport", FAIL, f"{path} is not an executable program on this server, so no "
                     "mail can be sent.", "set sendmail_path to your host's sendmail (often "
                     "/usr/sbin/sendmail or /usr/lib/sendmail), or use transport = smtp")
    if config.transport == "smtp":
        try:
            with socket.create_connection((config.smtp_host, config.smtp_port), timeout=config.mail_timeout) as s:
                s.settimeout(config.mail_timeout)
                greeting = s.recv(512).decode("ascii", "replace").strip()
                s.sendall(b"QUIT\r\n")
        except OSError as e:
            return Check("transport", FAIL, f"the SMTP server {config.smtp_host}:{config.smtp_port} "
                         f"does not answer ({e}).", "check smtp_host and smtp_port with your host")
        if not greeting.startswith("220"):
            return Check("transport", FAIL, f"{config.smtp_host}:{config.smtp_port} answered "
                         f"{greeting[:60]!r}, not an SMTP greeting.", "check smtp_host and smtp_port")
        return Check("transport", OK, f"the SMTP server {config.smtp_host}:{config.smtp_port} answers.")
    return Check("transport", WARN, f"transport = maildir writes mail as files into {config.outbox}; "
                 "nothing is sent.", "set transport = sendmail (or smtp) to send real mail")


def check_log_dir(config):
    from formmail.errors import LogUnavailable
    from formmail.store import SubmissionLog

    folder = config.log_dir
    try:  # a real write (the folder and its lock file), as the first submission would do
        with SubmissionLog.for_config(config).locked(timeout=2):
            pass
    except LogUnavailable as e:
        return Check("log folder", FAIL, f"{folder} cannot be written ({e}), so every submission "
                     "would be refused.", "create the folder and make it writable by the user the CGI runs as")
    if folder.exists():
        mode = stat.S_IMODE(folder.stat().st_mode)
        if mode & ~config.dir_mode & 0o077:
            return Check("log folder", WARN, f"{folder} has mode {mode:04o}: other users may read "
                         "the personal data in it.", f"chmod {config.dir_mode:04o} {folder}")
    from formmail.store import web_root_containing

    root = web_root_containing(folder)
    if root:
        return Check("log folder", WARN, f"{folder} is inside the web folder {root}; it is "
                     "protected by a deny-all .htaccess only.",
                     "move it out of the web folder, e.g. log_dir = /home/USER/formmail-data")
    return Check("log folder", OK, f"{folder} is writable and private.")


def check_free_mail(config):
    domain = config.sender_domain
    if domain in FREE_MAIL_DOMAINS or any(domain.endswith("." + d) for d in FREE_MAIL_DOMAINS):
        return Check("From domain", FAIL, f"sender {config.sender} is on the free-mail domain {domain}: "
                     f"{domain} only lets its own servers send as {domain}, so receivers reject or "
                     "junk this mail.", "set sender to an address on your own site's domain, e.g. "
                     "form@your-domain.example")
    return Check("From domain", OK, f"sender {config.sender} is on your own domain {domain}.")


def discover_ip(server_addr=None):
    """(address, how it was found) for this server's outgoing mail, or (None, why not)."""
    server_addr = server_addr or os.environ.get("SERVER_ADDR")
    if server_addr:
        try:
            ip = ipaddress.ip_address(server_addr)
            if ip.is_global:
                return str(ip), "the web server's address (SERVER_ADDR); mail usually leaves from it"
        except ValueError:
            pass
    for family, probe in ((socket.AF_INET, "192.0.2.1"), (socket.AF_INET6, "2001:db8::1")):
        try:
            with socket.socket(family, socket.SOCK_DGRAM) as s:
                s.connect((probe, 9))  # no packet is sent: this only picks the outgoing address
                ip = ipaddress.ip_address(s.getsockname()[0])
            if ip.is_global:
                return str(ip), "the address this server's network uses to reach the Internet"
        except OSError:
            continue
    return None, "this server has no public address of its own (it may sit behind NAT)"


def new_record(current, ip):
    """The SPF record to publish: `current` with ip4:/ip6: added before its all, or a new one."""
    term = f"ip{ipaddress.ip_address(ip).version}:{ip}"
    if not current:
        return f"v=spf1 {term} ~all"
    terms = current.split()
    for index, t in enumerate(terms):
        if t.lstrip("+-~?").lower() == "all":
            return " ".join(terms[:index] + [term] + terms[index:])
    return " ".join(terms[:1] + [term] + terms[1:])


def check_spf(config, ip, ip_source, resolver, lifetime):
    from formmail.spf import check_host

    envelope_domain = domain_of(config.envelope_sender)
    domains = [(envelope_domain, "envelope sender", config.envelope_sender)]
    if config.sender_domain != envelope_domain:
        domains.append((config.sender_domain, "From", config.sender))
    if ip is None:
        return [Check(f"SPF {d}", WARN, f"the sending address of this server is unknown ({ip_source}), "
                      "so SPF cannot be checked.", "run doctor with --ip ADDRESS; your host's manual "
                      "names the mail server's address") for d, _, _ in domains]
    checks = []
    for domain, role, address in domains:
        result = check_host(ip, domain, address, resolver=resolver, lifetime=lifetime)
        name = f"SPF {domain}"
        where = f"for {domain} ({role}) from {ip} ({ip_source})" if ip_source else f"for {domain} ({role}) from {ip}"
        if result.result == "pass":
            checks.append(Check(name, OK, f"SPF passes {where}: {result.matched} matches."))
        elif result.result == "temperror":
            checks.append(Check(name, WARN, f"SPF {where} could not be checked: the DNS did not "
                                f"answer ({result.detail}).", "run doctor again later"))
        elif result.result == "permerror":
            checks.append(Check(name, FAIL, f"the SPF record of {domain} is broken ({result.detail}), "
                                "so receivers treat it as failing.", _permerror_fix(domain, result, ip)))
        else:
            publish = new_record(result.record, ip)
            verb = "replace the TXT record" if result.record else "add a TXT record"
            what = {"none": f"{domain} has no SPF record",
                    "fail": f"SPF fails {where}: the record does not allow this server",
                    "softfail": f"SPF softfails {where}: the record does not allow this server",
                    "neutral": f"SPF is neutral {where}: the record does not allow this server"}[result.result]
            fix = f"{verb} of {domain} with:  {publish}"
            if not result.record:
                fix += ("  (if mail for this domain also goes out elsewhere, e.g. your mail "
                        "provider, add its include: too)")
            checks.append(Check(name, FAIL, what + "; receivers junk or reject such mail.", fix))
    return checks


def _permerror_fix(domain, result, ip):
    if "more than 10" in result.detail:
        return (f"the record of {domain} needs more than 10 DNS lookups: remove include: terms you "
                f"no longer use, or replace some with ip4: ranges; then make sure it allows {ip}")
    if "SPF records" in result.detail:
        return f"{domain} has several SPF records: merge them into one TXT record starting with v=spf1"
    return f"correct the SPF record of {domain} ({result.record or 'none'}) so that it allows {ip}"


def check_dmarc(config, dns):
    from formmail.dmarc import find_policy, spf_aligned
    from formmail.spf import TempError

    domain = config.sender_domain
    envelope = domain_of(config.envelope_sender)
    try:
        policy = find_policy(domain, dns)
        aligned = spf_aligned(domain, envelope, policy.aspf if policy else "r", dns)
    except TempError as e:
        return Check("DMARC", WARN, f"DMARC of {domain} could not be checked: {e}.", "run doctor again later")
    if not aligned:
        mode = "strict (aspf=s)" if policy and policy.aspf == "s" else "relaxed"
        return Check("DMARC", FAIL, f"the envelope sender's domain {envelope} does not align with "
                     f"the From domain {domain} ({mode}), so SPF cannot satisfy DMARC.",
                     f"leave envelope_sender empty, or use an address on {domain}")
    if policy is None:
        return Check("DMARC", WARN, f"{domain} publishes no DMARC policy; some receivers "
                     "distrust such mail.", f"add a TXT record at _dmarc.{domain} with:  "
                     f"v=DMARC1; p=none; rua=mailto:postmaster@{domain}")
    where = "" if policy.found_at == domain else f" (found at {policy.found_at})"
    return Check("DMARC", OK, f"policy p={policy.p}, applied to {domain}: {policy.applied}{where}; "
                 f"aspf={policy.aspf}, pct={policy.pct}; the envelope sender {envelope} aligns.")


def check_recipients(config, dns):
    from formmail.spf import TempError

    domains = sorted({domain_of(r) for form in config.forms.values() for r in form.recipients})
    checks = []
    for domain in domains:
        try:
            mx = [m for m in dns.mx(domain) if m]
            fallback = [] if mx else dns.addresses(domain, 4)
        except TempError as e:
            checks.append(Check(f"MX {domain}", WARN, f"the MX of {domain} could not be looked up ({e}).",
                                "run doctor again later"))
            continue
        if mx:
            checks.append(Check(f"MX {domain}", OK, f"mail for {domain} goes to {', '.join(sorted(mx)[:3])}."))
        elif fallback:
            checks.append(Check(f"MX {domain}", WARN, f"{domain} has no MX record; mail goes to its "
                                "address record instead.", f"ask whoever runs {domain} to publish an MX record"))
        else:
            checks.append(Check(f"MX {domain}", FAIL, f"{domain} has neither an MX nor an address "
                                "record: mail to the recipients there cannot be delivered.",
                                "check the spelling of recipients in the config"))
    return checks


def exit_status(checks):
    """0: nothing failed (warnings allowed); 1: something failed."""
    return 1 if any(c.status == FAIL for c in checks) else 0


def render(checks):
    """The report as text lines."""
    lines = []
    for c in checks:
        lines.append(f"[{c.status:4}] {c.name}: {c.message}")
        if c.fix and c.status != OK:
            lines.append(f"       fix: {c.fix}")
    fails = sum(c.status == FAIL for c in checks)
    warns = sum(c.status == WARN for c in checks)
    lines.append(f"{fails} failed, {warns} warnings, {len(checks) - fails - warns} ok"
                 + (" - fix the failed checks first." if fails else "."))
    return lines
