"""The command line: `python3 -m formmail [-c CONFIG] COMMAND`, also `formmail.cgi COMMAND` from cron."""

import argparse
import os
import sys
from pathlib import Path

from formmail.config import load_config, parse_config
from formmail.errors import ConfigInvalid, MailError

DEMO_CONFIG = Path(__file__).with_name("demo.ini")
DEMO_FOLDER = "formmail-demo"


def find_config(given):
    """The config path: -c, else $FORMMAIL_CONFIG, else ./config.ini; None when there is none."""
    if given:
        return Path(given)
    if os.environ.get("FORMMAIL_CONFIG"):
        return Path(os.environ["FORMMAIL_CONFIG"])
    here = Path("config.ini")
    return here if here.exists() else None


def load_or_report(path):
    """Load the config, or print its problems and return None."""
    if path is None:
        print("formmail: no config found: pass -c CONFIG, set FORMMAIL_CONFIG, or create "
              "config.ini (copy config.example.ini)", file=sys.stderr)
        return None
    try:
        return load_config(path)
    except ConfigInvalid as e:
        print(f"formmail: {e}", file=sys.stderr)
        return None


def cmd_check(args):
    path = find_config(args.config)
    config = load_or_report(path)
    if config is None:
        return 2
    warnings = config_warnings(config)
    print(f"{config.path}: the config is valid.")
    print(f"  From: {config.sender_name} <{config.sender}>, envelope sender {config.envelope_sender}")
    print(f"  transport: {config.transport}; log folder: {config.log_dir}")
    for form in config.forms.values():
        print(f"  form {form.name!r}: {len(form.fields)} fields, mail to {', '.join(form.recipients)}")
    for w in warnings:
        print(f"warning: {w}")
    return 0


def config_warnings(config):
    """Problems `check` reports that do not stop formmail from starting."""
    from formmail.store import web_root_containing

    warnings = []
    cgi = config.base_dir / "formmail.cgi"
    if cgi.is_file():
        head = cgi.read_bytes()[:4096]
        if b"\r\n" in head:
            warnings.append(f"{cgi} has Windows (CRLF) line ends, so the server cannot run it: "
                            "upload it again in binary mode (or convert it to LF)")
        if not os.access(cgi, os.X_OK):
            warnings.append(f"{cgi} may not be run: give it permission 755 in your FTP program "
                            "or file manager")
    root = web_root_containing(config.log_dir)
    if root:
        warnings.append(
            f"[formmail] log_dir: {config.log_dir} is inside the web folder {root}. formmail "
            "puts a deny-all .htaccess in it, but personal data is safest outside the web: "
            "move it, e.g. log_dir = /home/USER/formmail-data")
    if config.transport == "sendmail":
        p = config.sendmail_path
        if not os.path.isfile(p) or not os.access(p, os.X_OK):
            warnings.append(f"[formmail] sendmail_path: {p} is not an executable program on this "
                            "server; mail will fail (try /usr/lib/sendmail or transport = smtp)")
    log_dir = config.log_dir
    probe = log_dir if log_dir.exists() else log_dir.parent
    if not os.access(probe, os.W_OK):
        warnings.append(f"[formmail] log_dir: {log_dir} is not writable; every submission "
                        "would be refused (503)")
    return warnings


def cmd_send_test(args):
    from formmail.app import make_clock
    from formmail.message import compose_test
    from formmail.transport import make_transport

    config = load_or_report(find_config(args.config))
    if config is None:
        return 2
    if args.form and args.form not in config.forms:
        print(f"formmail: there is no [form:{args.form}] in the config", file=sys.stderr)
        return 2
    forms = [config.forms[args.form]] if args.form else list(config.forms.values())
    transport = make_transport(config)
    failed = 0
    for form in forms:
        msg = compose_test(config, form, make_clock(config.timezone)())
        try:
            transport.send(msg, config.envelope_sender, form.recipients)
        except MailError as e:
            print(f"form {form.name}: NOT sent: {e}", file=sys.stderr)
            failed += 1
        else:
            print(f"form {form.name}: test mail handed to {config.transport} for "
                  f"{', '.join(form.recipients)}")
    return 1 if failed else 0


def _now(config):
    from formmail.app import make_clock

    return make_clock(config.timezone)()


def _log(config):
    from formmail.store import SubmissionLog

    return SubmissionLog.for_config(config)


def cmd_prune(args):
    from formmail.errors import LogUnavailable
    from formmail.retention import cutoff_for, prune

    config = load_or_report(find_config(args.config))
    if config is None:
        return 2
    now = _now(config)
    cutoff = cutoff_for(now, config.retention_days).isoformat(timespec="seconds")
    print(f"{'dry run: ' if args.dry_run else ''}removing entries received before {cutoff} "
          f"({config.retention_days} days) from {config.log_dir}")
    try:
        outcomes = prune(_log(config), config.retention_days, now, dry_run=args.dry_run)
    except LogUnavailable as e:
        print(f"formmail: prune did not run: {e}", file=sys.stderr)
        return 1
    for outcome in outcomes:
        print(outcome.describe(args.dry_run))
    removed = sum(o.removed for o in outcomes if o.action in ("deleted", "rewritten"))
    errors = [o for o in outcomes if o.action == "error"]
    print(f"{'would remove' if args.dry_run else 'removed'} {removed} entries in all"
          + (f"; {len(errors)} files could not be pruned" if errors else ""))
    return 1 if errors else 0


def cmd_resend(args):
    from formmail.app import FormMail
    from formmail.errors import LogUnavailable
    from formmail.resend import resend

    config = load_or_report(find_config(args.config))
    if config is None:
        return 2
    app = FormMail(config)
    try:
        summary = resend(app, app.clock())
    except LogUnavailable as e:
        print(f"formmail: resend did not run: {e}", file=sys.stderr)
        return 1
    for line in summary.lines():
        print(line)
    return 1 if summary.still_pending else 0


def cmd_status(args):
    from formmail.logstatus import report

    config = load_or_report(find_config(args.config))
    if config is None:
        return 2
    for line in report(config, _log(config), _now(config)):
        print(line)
    return 0


def cmd_export(args):
    from formmail.export import export

    config = load_or_report(find_config(args.config))
    if config is None:
        return 2
    form = args.form or (next(iter(config.forms)) if len(config.forms) == 1 else None)
    if form is None:
        print("formmail: name the form with --form (" + ", ".join(config.forms) + ")", file=sys.stderr)
        return 2
    for label, value in (("--from", args.start), ("--to", args.end)):
        if value and not _is_date(value):
            print(f"formmail: {label} takes a date like 2026-01-31, not {value!r}", file=sys.stderr)
            return 2
    if args.output:  # an export holds the same personal data as the log: private from the start
        out = os.fdopen(os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb")
    else:
        out = sys.stdout.buffer
    try:
        result = export(config, form, out, args.start, args.end, args.encoding)
    finally:
        if args.output:
            out.close()
        else:
            out.flush()
    print(f"exported {result.rows} entries of form {form}", file=sys.stderr)
    if result.replaced:
        print(f"warning: {result.replaced} characters cannot be written in cp932 and were "
              "replaced by 〓; use --encoding utf-8 to keep them", file=sys.stderr)
    return 0


def _is_date(text):
    from datetime import date

    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def resolver_for(nameserver):
    """A dns.resolver.Resolver for --nameserver HOST[:PORT], or the system's (None)."""
    if not nameserver:
        return None
    import dns.resolver

    host, port = nameserver, 53
    if nameserver.count(":") == 1:
        host, _, port = nameserver.partition(":")
    elif nameserver.startswith("[") and "]:" in nameserver:
        host, _, port = nameserver[1:].partition("]:")
    resolver = dns.resolver.Resolver(configure=False)
    resolver.nameservers = [host]
    resolver.port = int(port)
    return resolver


def cmd_doctor(args):
    from formmail.doctor import discover_ip, exit_status, render, run_checks

    path = find_config(args.config)
    config = load_or_report(path)
    if config is None:
        print("[fail] config: the config is not valid (see above); fix it, then run doctor again.")
        return 2
    if args.ip:
        ip, source = args.ip, "given with --ip"
    else:
        ip, source = discover_ip()
    try:
        resolver = resolver_for(args.nameserver)
    except ValueError:
        print(f"formmail: --nameserver takes HOST or HOST:PORT, not {args.nameserver!r}", file=sys.stderr)
        return 2
    print(f"formmail doctor: {config.path}")
    checks = run_checks(config, ip, source, resolver)
    for line in render(checks):
        print(line)
    return exit_status(checks)


def cmd_spf(args):
    from formmail.spf import check_host

    try:
        resolver = resolver_for(args.nameserver)
        result = check_host(args.ip, args.domain, args.sender or f"postmaster@{args.domain}",
                            helo=args.helo, resolver=resolver)
    except ValueError as e:
        print(f"formmail: {e}", file=sys.stderr)
        return 2
    print(f"SPF {result.result} for {args.domain} from {args.ip}")
    if result.record:
        print(f"record: {result.record}")
    if result.matched:
        print(f"matched: {result.matched} (in the record of {result.domain})")
    if result.detail:
        print(f"detail: {result.detail}")
    if result.explanation:
        print(f"explanation: {result.explanation}")
    return 0 if result.result == "pass" else 1


def cmd_bundle(args):
    from formmail.bundle import bundle

    try:
        out = bundle(args.outdir, make_zip=args.zip)
    except FileExistsError as e:
        print(f"formmail: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}: edit {out / 'config.ini'}, then upload the folder's contents"
          + (f" (or {out.with_suffix('.zip')})" if args.zip else ""))
    return 0


def demo_config(folder):
    """The embedded demo config, with its files under `folder`."""
    return parse_config(DEMO_CONFIG.read_text(encoding="utf-8"), DEMO_CONFIG, base_dir=folder)


def cmd_serve(args):
    from werkzeug.serving import run_simple

    from formmail.app import FormMail
    from formmail.pages import Response, Templates

    path = None if args.demo else find_config(args.config)
    if path is None:
        config = demo_config(Path.cwd() / DEMO_FOLDER)
        print(f"formmail: no config given, using the demo config: mail is written to "
              f"{config.outbox}/new, the log to {config.log_dir}")
    else:
        config = load_or_report(path)
        if config is None:
            return 2
    templates = Templates(config.templates_dir)
    app = FormMail(config, templates=templates)

    def site(environ, start_response):
        route = environ.get("PATH_INFO") or "/"
        if route == "/formmail.cgi" or route.startswith("/formmail.cgi/"):
            environ["SCRIPT_NAME"] = environ.get("SCRIPT_NAME", "") + "/formmail.cgi"
            environ["PATH_INFO"] = route[len("/formmail.cgi"):]
            return app(environ, start_response)
        if route in ("/", "/form.html"):
            page = templates.render("form.html", action="formmail.cgi")
            return Response(page)(environ, start_response)
        return Response("not found", 404, content_type="text/plain")(environ, start_response)

    print(f"formmail: open http://{args.host}:{args.port}/ (Ctrl-C stops)")
    run_simple(args.host, args.port, site, use_reloader=False, threaded=True)
    return 0


COMMANDS = {
    "serve": (cmd_serve, "run a local web server with a demo form (for trying formmail out)"),
    "check": (cmd_check, "check the config and say what is wrong (exit 2 on errors)"),
    "send-test": (cmd_send_test, "send one test mail to each form's recipients"),
    "prune": (cmd_prune, "delete log entries older than retention_days (for cron; exit 1 on errors)"),
    "resend": (cmd_resend, "send again every mail that did not go out (exit 1 while any is left)"),
    "status": (cmd_status, "count submissions and unsent mails, show the oldest entry and next prune"),
    "export": (cmd_export, "write one form's entries over a date range as one CSV for Excel"),
    "doctor": (cmd_doctor, "check config, transport, log folder, SPF, DMARC and MX, and say what to fix"),
    "spf": (cmd_spf, "evaluate SPF (RFC 7208) for DOMAIN and IP, as a receiver would"),
    "bundle": (cmd_bundle, "write a folder ready to upload to a rental server (no pip needed there)"),
}


def build_parser():
    parser = argparse.ArgumentParser(
        prog="formmail", description="formmail: a form mailer that sends on-domain mail and "
        "keeps a log of every submission.")
    parser.add_argument("-c", "--config", help="the config file (default: $FORMMAIL_CONFIG, "
                        "else config.ini in the current folder)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, (_, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == "serve":
            p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
            p.add_argument("--port", type=int, default=8000, help="port (default 8000)")
            p.add_argument("--demo", action="store_true", help="use the demo config even if a config exists")
        if name == "send-test":
            p.add_argument("--form", help="only this form (default: every form)")
        if name == "prune":
            p.add_argument("--dry-run", action="store_true", help="show what would be removed; change nothing")
        if name == "export":
            p.add_argument("--form", help="the form (needed when there are several)")
            p.add_argument("--from", dest="start", metavar="DATE", help="first day, e.g. 2026-01-01")
            p.add_argument("--to", dest="end", metavar="DATE", help="last day, e.g. 2026-12-31")
            p.add_argument("--encoding", choices=("utf-8", "cp932"), default="utf-8",
                           help="utf-8 with BOM (default) or cp932 for old Japanese Excel")
            p.add_argument("-o", "--output", help="write to this file (default: standard output)")
        if name in ("doctor", "spf"):
            p.add_argument("--nameserver", metavar="HOST[:PORT]", help="ask this DNS server "
                           "(default: the system's resolver)")
        if name == "doctor":
            p.add_argument("--ip", help="this server's sending address (default: discovered as "
                           "well as the host allows)")
        if name == "bundle":
            p.add_argument("outdir", help="the folder to write (must be new or empty)")
            p.add_argument("--zip", action="store_true", help="also write OUTDIR.zip")
        if name == "spf":
            p.add_argument("domain", help="the domain whose SPF record is evaluated")
            p.add_argument("ip", help="the sending server's address")
            p.add_argument("--sender", help="MAIL FROM address (default: postmaster@DOMAIN)")
            p.add_argument("--helo", help="HELO name of the sending server")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command][0](args)
