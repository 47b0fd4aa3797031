#!/usr/bin/env python3
"""Times N sequential submissions through formmail.cgi (maildir transport) against `python3 -c pass`.

Usage: python3 bench/cgi.py [N]    (default 30). Prints medians, the ratio, and what a
submission imports, so the cost of formmail's own start-up stays visible.
"""

import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from cgirun import CGI, cgi_env  # noqa: E402
from conftest import write_config  # noqa: E402

def body(n):
    """A distinct submission each time, so duplicate suppression does not short-cut the run."""
    return urlencode({"name": "山田 太郎", "email": "taro@example.jp", "phone": "03-1234-5678",
                      "message": f"お見積もりをお願いします（{n}）。\n" * 20}).encode()


def timed(argv, env=None, data=None):
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, input=data, capture_output=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0 or (data is not None and b"Status: 200" not in proc.stdout):
        raise SystemExit(f"run failed: {proc.stdout[:200]!r} {proc.stderr[-500:]!r}")
    return elapsed


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 30
    with tempfile.TemporaryDirectory() as tmp:
        config = write_config(tmp)
        def run(i):  # every guard on; each post from its own address, under the per-client limit
            data = body(i)
            env = {**cgi_env(config, body=data), "REMOTE_ADDR": f"192.0.2.{i % 250 + 1}"}
            return timed([str(CGI)], env, data)

        run(0)  # warm the bytecode cache, as a second request would find it
        baseline, cgi = [], []
        for i in range(1, n + 1):  # interleaved, so both see the same machine load
            baseline.append(timed([sys.executable, "-c", "pass"]))
            cgi.append(run(i))
        mails = len(list((Path(tmp) / "outbox" / "new").iterdir()))
        modules = subprocess.run(
            [sys.executable, "-c", "import sys; sys.path.insert(0, %r); import formmail.app; "
             "print(len(sys.modules)); print(' '.join(sorted(m for m in sys.modules if m.split('.')[0] "
             "in ('dns', 'argparse', 'formmail.cli'))))" % str(ROOT)],
            capture_output=True, text=True).stdout.split("\n")
    b, c = statistics.median(baseline), statistics.median(cgi)
    print(f"submissions: {n} sequential CGI runs, {mails} mails written")
    print(f"python3 -c pass     median {b * 1000:7.1f} ms")
    print(f"formmail.cgi POST   median {c * 1000:7.1f} ms  (p90 {sorted(cgi)[int(n * 0.9) - 1] * 1000:.1f} ms)")
    print(f"ratio               {c / b:7.2f}x")
    print(f"modules loaded by formmail.app: {modules[0]}; DNS/CLI among them: {modules[1] or 'none'}")


if __name__ == "__main__":
    main()
