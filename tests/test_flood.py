"""Rate limits and duplicate suppression hold when many CGI processes arrive at once."""

import json
import subprocess
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlencode

from cgirun import CGI, cgi_env
from conftest import log_rows, spam_rows, write_config


def post(config_path, data, remote="198.51.100.7"):
    body = urlencode(data).encode()
    env = cgi_env(config_path, body=body, accept="application/json")
    env["REMOTE_ADDR"] = remote
    proc = subprocess.run([str(CGI)], input=body, env=env, capture_output=True, timeout=120)
    head, _, payload = proc.stdout.partition(b"\r\n\r\n")
    status = int(head.split(b"Status: ")[1][:3])
    retry = [line for line in head.split(b"\r\n") if line.lower().startswith(b"retry-after:")]
    return status, json.loads(payload), retry


def test_flood_from_one_client_is_cut_at_the_limit(tmp_path):
    path = write_config(tmp_path, formmail={"max_posts_per_client": "5", "duplicate_window_minutes": "0"})
    posts = [{"name": "連投", "email": "f@example.jp", "message": f"flood {i}"} for i in range(16)]
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda d: post(path, d), posts))
    statuses = sorted(r[0] for r in results)
    assert statuses == [200] * 5 + [429] * 11
    assert all(r[2] for r in results if r[0] == 429)  # every 429 says when to come back
    assert len(log_rows(tmp_path / "data")) == 5
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 5
    assert [r["reason"] for r in spam_rows(tmp_path / "data")] == ["too_many_requests"] * 11


def test_identical_posts_at_once_are_mailed_once(tmp_path):
    path = write_config(tmp_path, formmail={"max_posts_per_client": "0"})
    data = {"name": "二度押し", "email": "d@example.jp", "message": "同じ内容"}
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: post(path, data), range(8)))
    assert [r[0] for r in results] == [200] * 8
    references = {r[1]["id"] for r in results}
    assert len(references) == 1  # every click is told the same reference
    rows = log_rows(tmp_path / "data")
    assert [r["id"] for r in rows] == list(references)
    assert len(list((tmp_path / "outbox" / "new").iterdir())) == 1
