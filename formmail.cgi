#!/usr/bin/env python3
"""formmail's CGI entry: serves the form mailer under a web server, or runs the CLI from a shell."""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
# The package beside this file first, then uploaded dependencies in lib/ (no pip needed).
for folder in (os.path.join(HERE, "lib"), HERE):
    if os.path.isdir(folder) and folder not in sys.path:
        sys.path.insert(0, folder)
os.environ.setdefault("FORMMAIL_CONFIG", os.path.join(HERE, "config.ini"))

if os.environ.get("GATEWAY_INTERFACE"):
    from wsgiref.handlers import CGIHandler

    from formmail.app import create_app

    app = create_app()
    CGIHandler().run(app)
    # The reply is complete: close stdout so the web server finishes it, then do the
    # housekeeping (the daily prune when there is no cron) without the visitor waiting.
    sys.stdout.flush()
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    app.after_response()
else:
    from formmail.cli import main

    sys.exit(main())
