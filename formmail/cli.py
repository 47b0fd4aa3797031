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
    warnings = []
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
        if route == "/formmail.cgi":
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
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    return COMMANDS[args.command][0](args)
