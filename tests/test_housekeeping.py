"""The automatic prune: at most once a day, never blocking, after the response, can be off."""

import fcntl
import os
from dataclasses import replace

from werkzeug.test import Client

from cgirun import run_cgi
from conftest import log_rows, write_config
from formmail.app import FormMail
from formmail.config import load_config
from formmail.housekeeping import STAMP_NAME, last_prune, prune_if_due
from formmail.store import SubmissionLog
from logdata import add_rows, at

NOW = at("2026-07-15T12:00:00+09:00")


def test_runs_once_a_day(config):
    cfg = replace(config, retention_days=30)
    log = SubmissionLog.for_config(cfg)
    add_rows(cfg, [at("2026-04-01T09:00:00+09:00")])
    assert prune_if_due(cfg, log, NOW)[0].action == "deleted"
    add_rows(cfg, [at("2026-04-02T09:00:00+09:00")])
    assert prune_if_due(cfg, log, at("2026-07-16T11:59:00+09:00")) is None  # 23h59m later
    assert (cfg.log_dir / "contact-2026-04.csv").exists()
    assert prune_if_due(cfg, log, at("2026-07-16T12:00:00+09:00")) is not None
    assert not (cfg.log_dir / "contact-2026-04.csv").exists()
    assert last_prune(log) == at("2026-07-16T12:00:00+09:00").timestamp()


def test_off_when_configured(config):
    cfg = replace(config, retention_days=30, auto_prune=False)
    add_rows(cfg, [at("2026-04-01T09:00:00+09:00")])
    assert prune_if_due(cfg, SubmissionLog.for_config(cfg), NOW) is None
    assert (cfg.log_dir / "contact-2026-04.csv").exists()


def test_does_not_wait_for_a_running_prune(config):
    cfg = replace(config, retention_days=30)
    add_rows(cfg, [at("2026-04-01T09:00:00+09:00")])
    fd = os.open(cfg.log_dir / ".maintenance.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(fd, fcntl.LOCK_EX)
    try:
        assert prune_if_due(cfg, SubmissionLog.for_config(cfg), NOW) is None
    finally:
        os.close(fd)
    assert not (cfg.log_dir / STAMP_NAME).exists()  # a later request will still do it


def test_no_log_folder_no_work(config):
    assert prune_if_due(config, SubmissionLog.for_config(config), NOW) is None
    assert not config.log_dir.exists()


def test_failure_never_reaches_the_visitor(config, capsys):
    cfg = replace(config, retention_days=30)
    add_rows(cfg, [at("2026-06-10T09:00:00+09:00"), at("2026-06-20T09:00:00+09:00")])
    os.mkdir(cfg.log_dir / ".contact-2026-06.csv.prune.tmp")  # makes the clean-up fail
    assert prune_if_due(cfg, SubmissionLog.for_config(cfg), NOW) is None
    assert "automatic prune failed" in capsys.readouterr().err


def test_wsgi_runs_it_when_the_body_is_closed(config, transport):
    cfg = replace(config, retention_days=30)
    add_rows(cfg, [at("2026-04-01T09:00:00+09:00")])
    app = FormMail(cfg, transport=transport, clock=lambda: NOW)
    response = Client(app).get("/")
    assert response.status_code == 200
    assert (cfg.log_dir / "contact-2026-04.csv").exists()  # not before the body is done with
    response.close()  # what a server does once it has sent the body
    assert not (cfg.log_dir / "contact-2026-04.csv").exists()


def test_cgi_runs_it_after_the_reply(tmp_path):
    path = write_config(tmp_path, formmail={"retention_days": "30"})
    config = load_config(path)
    add_rows(config, [at("2001-04-01T09:00:00+09:00")])
    status, _, _, err = run_cgi(path, method="GET")
    assert status == 200, err
    assert not (tmp_path / "data" / "contact-2001-04.csv").exists()
    assert (tmp_path / "data" / STAMP_NAME).exists()
    assert log_rows(tmp_path / "data") == []
