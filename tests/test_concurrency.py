"""Nothing lost under load or crashes: concurrent CGI writers with prune looping, and SIGKILL
at random points of writers and of prune."""

import csv
import io
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlencode

from cgirun import CGI, cgi_env
from conftest import write_config
from formmail.app import make_clock
from formmail.config import load_config
from formmail.store import BOM, ROW_END, header_for
from logdata import add_rows, period_start, plant_rows

WORKERS = 8
NO_LIMITS = {"max_posts_per_client": "0", "max_posts_per_hour": "0"}  # these tests are about the log
PER_WORKER = 26  # 208 submissions


def strict_rows(log_dir, form):
    """Every data row of every log file, checked byte for byte: one BOM+header at the top,
    CRLF after every row, the right number of cells in each."""
    header = header_for(form)
    rows = []
    for path in sorted(Path(log_dir).glob("[!_]*.csv")):
        data = path.read_bytes()
        assert data.startswith(BOM + ",".join(header).encode() + ROW_END), path
        assert data.endswith(ROW_END), f"{path} ends in a partial row"
        assert data.count(BOM) == 1
        parsed = list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))
        for cells in parsed[1:]:
            assert len(cells) == len(header), cells
            rows.append(dict(zip(header, cells)))
    return rows


def submit(config_path, marker):
    body = urlencode({"name": f"並行 {marker}", "email": "load@example.jp",
                      "message": f"{marker}\n二行目, \"quoted\"\n" + "長文" * 200}).encode()
    env = cgi_env(config_path, body=body, accept="application/json")
    proc = subprocess.run([str(CGI)], input=body, env=env, capture_output=True, timeout=120)
    head, _, payload = proc.stdout.partition(b"\r\n\r\n")
    assert b"Status: 200" in head, (head, proc.stderr[-400:])
    return json.loads(payload)["id"]


def test_concurrent_writers_while_prune_loops(tmp_path):
    path = write_config(tmp_path, formmail={"retention_days": "30", "auto_prune": "no", **NO_LIMITS})
    config = load_config(path)
    form = config.form("contact")
    now = make_clock(config.timezone)()
    plant_rows(config, period_start(now) + timedelta(seconds=1), 1)  # the live file exists from the start
    stop = tmp_path / "stop"
    pruner = subprocess.Popen([sys.executable, str(Path(__file__).parent / "prune_loop.py"), str(path), str(stop)],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    accepted, errors = {}, []

    def worker(w):
        for n in range(PER_WORKER):
            marker = f"w{w}-n{n}"
            try:
                accepted[marker] = submit(path, marker)
            except Exception as e:  # recorded, then asserted on below
                errors.append(f"{marker}: {e}")

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stop.touch()
    out, err = pruner.communicate(timeout=120)
    assert pruner.returncode == 0, err.decode()
    assert errors == []
    rewrites = int(out)
    print(f"prune rewrote the live file {rewrites} times during the run")
    assert rewrites >= 5, f"prune rewrote the live file only {rewrites} times"

    rows = [r for r in strict_rows(config.log_dir, form) if "-OLD" not in r["id"]]
    assert len(rows) == len(strict_rows(config.log_dir, form))  # the last prune took every planted row
    markers = [r["message"].split("\n")[0] for r in rows]
    assert len(accepted) == WORKERS * PER_WORKER
    assert sorted(markers) == sorted(accepted)  # none lost, none duplicated
    by_marker = {r["message"].split("\n")[0]: r for r in rows}
    for marker, ref in accepted.items():
        row = by_marker[marker]
        assert row["id"] == ref and row["mail"].strip() == "sent" and row["name"] == f"並行 {marker}"
        assert row["message"] == f"{marker}\n二行目, \"quoted\"\n" + "長文" * 200
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == len(accepted)
    assert not [p for p in config.log_dir.iterdir() if p.name.endswith(".tmp")]


def _killed_run(path, marker, delay):
    """Start a submission, SIGKILL it after `delay` s (None: let it finish); the id it
    acknowledged, or None."""
    body = urlencode({"name": "途中終了", "email": "k@example.jp", "message": marker}).encode()
    env = cgi_env(path, body=body, accept="application/json")
    proc = subprocess.Popen([str(CGI)], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, env=env)
    proc.stdin.write(body)
    proc.stdin.close()
    if delay is not None:
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
    out = proc.stdout.read()
    proc.wait(timeout=120)
    if b"Status: 200" in out and b'"id"' in out:
        return json.loads(out.partition(b"\r\n\r\n")[2])["id"]
    return None


def test_writers_killed_at_random_points(tmp_path):
    """SIGKILL formmail.cgi at random moments: every row is whole, every acknowledged one is
    there, and those killed between log and mail are left pending for resend. The kill times
    scale with a measured run, and runs go on until kills landed on both sides of the reply."""
    path = write_config(tmp_path, formmail={"auto_prune": "no", **NO_LIMITS})
    config = load_config(path)
    start = time.monotonic()
    assert _killed_run(path, "warmup", None) is not None
    full = time.monotonic() - start
    rng = random.Random(20261203)
    acknowledged, killed, runs = {}, 0, 0
    while runs < 150 and (runs < 40 or len(acknowledged) < 3 or killed < 3):
        marker = f"kill-{runs}"
        ref = _killed_run(path, marker, rng.uniform(0.0, 1.3) * full)
        runs += 1
        if ref:
            acknowledged[marker] = ref
        else:
            killed += 1
    rows = strict_rows(config.log_dir, config.form("contact"))
    logged = {r["message"]: r for r in rows}
    assert len(logged) == len(rows)  # nothing twice
    for marker, ref in acknowledged.items():
        assert logged[marker]["id"] == ref and logged[marker]["mail"].strip() == "sent"
    mailed = {p.read_bytes().split(b"X-Formmail-Id: ")[1][:15].decode()
              for p in (tmp_path / "outbox" / "new").iterdir()}
    for row in rows:  # nothing mailed without being recorded first; pending means not marked yet
        assert row["mail"].strip() in ("sent", "pending")
    assert mailed <= {r["id"] for r in rows}
    print(f"{runs} runs: {len(acknowledged)} acknowledged, {killed} killed before the reply, "
          f"{len(rows) - 1} logged, {sum(r['mail'].strip() == 'pending' for r in rows)} pending")
    assert len(acknowledged) >= 3 and killed >= 3, "the kills should land before and after the reply"


def test_prune_killed_at_random_points(tmp_path, faketime):
    """SIGKILL `formmail.cgi prune` mid-rewrite, many times: the file is always the old or the
    new version, no live row is ever lost, and the next prune removes the leftover temp file.
    The clock is pinned by faketime, so the cut-off cannot move while the test runs."""
    path = write_config(tmp_path, formmail={"retention_days": "30", "auto_prune": "no"})
    config = load_config(path)
    form = config.form("contact")
    now = datetime(2026, 6, 15, 12, 0, tzinfo=timezone(timedelta(hours=9)))
    cutoff = now - timedelta(days=30)              # 2026-05-16 12:00 +09:00
    expired, live_at = cutoff - timedelta(hours=1), cutoff + timedelta(hours=1)   # both in May
    live = {s.id for s in add_rows(config, [live_at] * 50)}
    env = {"PATH": f"{os.path.dirname(sys.executable)}:/usr/bin:/bin", "FORMMAIL_CONFIG": str(path), "TZ": "UTC"}
    prune = [faketime, "-f", f"@{now.astimezone(timezone.utc):%Y-%m-%d %H:%M:%S}", str(CGI), "prune"]
    plant_rows(config, expired, 15_000, tag="warmup")
    start = time.monotonic()
    subprocess.run(prune, env=env, capture_output=True, timeout=300, check=True)
    full = time.monotonic() - start  # start-up, then the rewrite at the end: aim the kills there
    rng = random.Random(7)
    temps_seen = round_ = 0
    while round_ < 80 and (round_ < 20 or temps_seen < 3):
        round_ += 1
        plant_rows(config, expired, 15_000, tag=f"R{round_:02d}x")
        proc = subprocess.Popen(prune, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.5, 1.0) * full)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        temps_seen += any(p.name.endswith(".prune.tmp") for p in config.log_dir.iterdir())
        ids = {r["id"] for r in strict_rows(config.log_dir, form)}
        assert live <= ids, f"round {round_}: live rows lost"
    finished = subprocess.run(prune, env=env, capture_output=True, timeout=300)
    assert finished.returncode == 0, finished.stdout
    assert not [p for p in config.log_dir.iterdir() if p.name.endswith(".tmp")]
    assert {r["id"] for r in strict_rows(config.log_dir, form)} == live
    print(f"{temps_seen} of {round_} kills left a temporary file behind")
    assert temps_seen >= 3, "too few kills landed inside a rewrite; the test did not test it"
