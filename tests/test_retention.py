"""prune: exact boundaries, time zones, a DST change, odd files, dry runs, crash leftovers."""

import os
import stat
from dataclasses import replace
from datetime import timedelta

import pytest

from conftest import log_rows
from formmail.retention import cutoff_for, prune
from formmail.store import SubmissionLog
from logdata import add_rows, at

NOW = at("2026-07-15T12:00:00+09:00")  # retention 30 days: cutoff 2026-06-15T12:00:00+09:00


@pytest.fixture
def cfg(config):
    return replace(config, retention_days=30)


def ids(cfg):
    return sorted(r["id"] for r in log_rows(cfg.log_dir))


def run(cfg, dry_run=False, now=NOW):
    return {o.name: o for o in prune(SubmissionLog.for_config(cfg), cfg.retention_days, now, dry_run)}


def test_cutoff_is_absolute_days():
    assert cutoff_for(NOW, 30) == at("2026-06-15T12:00:00+09:00")


def test_exact_boundary_and_other_offsets(cfg):
    kept = add_rows(cfg, [
        at("2026-06-15T12:00:00+09:00"),   # exactly at the limit: not older, kept
        at("2026-06-15T03:00:00+00:00"),   # the same instant in UTC
        at("2026-06-14T23:00:00-04:00"),   # the same instant in New York
        at("2026-06-20T10:00:00+09:00"),
    ])
    gone = add_rows(cfg, [
        at("2026-06-15T11:59:59+09:00"),   # one second older
        at("2026-06-15T02:59:59+00:00"),
        at("2026-06-14T22:59:59-04:00"),
        at("2026-06-01T00:00:00+09:00"),
    ])
    outcome = run(cfg)["contact-2026-06.csv"]
    assert (outcome.action, outcome.removed, outcome.kept) == ("rewritten", 4, 4)
    assert ids(cfg) == sorted(s.id for s in kept)
    assert not set(ids(cfg)) & {s.id for s in gone}


def test_across_a_daylight_saving_change(config):
    """New York moved to EDT on 2026-03-08: 14 days before noon EDT is 11:00 EST, not noon."""
    cfg = replace(config, retention_days=14, timezone="America/New_York")
    now = at("2026-03-20T12:00:00-04:00")
    kept = add_rows(cfg, [at("2026-03-06T11:00:00-05:00"), at("2026-03-06T11:30:00-05:00")])
    add_rows(cfg, [at("2026-03-06T10:59:59-05:00")])
    run(cfg, now=now)
    assert ids(cfg) == sorted(s.id for s in kept)


def test_whole_expired_files_are_deleted_and_new_ones_untouched(cfg):
    add_rows(cfg, [at("2026-04-10T09:00:00+09:00")] * 3)
    add_rows(cfg, [at("2026-07-01T09:00:00+09:00")])
    july = cfg.log_dir / "contact-2026-07.csv"
    before = july.read_bytes()
    outcomes = run(cfg)
    assert (outcomes["contact-2026-04.csv"].action, outcomes["contact-2026-04.csv"].removed) == ("deleted", 3)
    assert outcomes["contact-2026-07.csv"].action == "not-expired"
    assert not (cfg.log_dir / "contact-2026-04.csv").exists() and july.read_bytes() == before


def test_file_near_the_limit_is_read_not_judged_by_its_name(cfg):
    """May's file ends on 2026-05-31 local time, but a row from UTC-12 dated May 31 can be
    later than a cut-off of 2026-06-01T05:00Z: such a file must be read row by row."""
    late = add_rows(cfg, [at("2026-05-31T20:00:00-12:00")])  # = 2026-06-01T08:00Z
    add_rows(cfg, [at("2026-05-31T12:00:00+09:00")])
    now = at("2026-07-01T05:00:00+00:00")
    outcome = run(cfg, now=now)["contact-2026-05.csv"]
    assert (outcome.action, outcome.removed, outcome.kept) == ("rewritten", 1, 1)
    assert ids(cfg) == [late[0].id]


def test_file_emptied_by_pruning_is_deleted(cfg):
    add_rows(cfg, [at("2026-06-14T23:59:00+09:00")])  # June file, 12 hours before the cut-off
    outcome = run(cfg)["contact-2026-06.csv"]
    assert (outcome.action, outcome.removed) == ("deleted", 1)
    assert not (cfg.log_dir / "contact-2026-06.csv").exists()


def test_dry_run_changes_nothing(cfg):
    add_rows(cfg, [at("2026-04-10T09:00:00+09:00"), at("2026-06-10T09:00:00+09:00"),
                   at("2026-06-20T09:00:00+09:00")])
    before = {p.name: p.read_bytes() for p in cfg.log_dir.iterdir() if p.suffix == ".csv"}
    outcomes = run(cfg, dry_run=True)
    assert outcomes["contact-2026-04.csv"].describe(True).endswith("would delete the file (1 entries, all expired)")
    assert outcomes["contact-2026-06.csv"].describe(True) == "contact-2026-06.csv: would remove 1 of 2 entries"
    assert {p.name: p.read_bytes() for p in cfg.log_dir.iterdir() if p.suffix == ".csv"} == before
    assert not [p for p in cfg.log_dir.iterdir() if p.name.endswith(".tmp")]


def test_empty_and_header_only_files(cfg):
    add_rows(cfg, [at("2026-06-20T09:00:00+09:00")])
    header = (cfg.log_dir / "contact-2026-06.csv").read_bytes().split(b"\r\n")[0] + b"\r\n"
    (cfg.log_dir / "contact-2026-03.csv").write_bytes(b"")          # expired, empty
    (cfg.log_dir / "contact-2026-02.csv").write_bytes(header)       # expired, header only
    (cfg.log_dir / "contact-2026-08.csv").write_bytes(header)       # future, header only
    (cfg.log_dir / "contact-2026-06_part2.csv").write_bytes(b"")    # straddling, empty
    outcomes = run(cfg)
    assert outcomes["contact-2026-03.csv"].action == "deleted"
    assert outcomes["contact-2026-02.csv"].action == "deleted" and outcomes["contact-2026-02.csv"].removed == 0
    assert outcomes["contact-2026-08.csv"].action == "not-expired"
    assert outcomes["contact-2026-06_part2.csv"].action == "unchanged"
    assert (cfg.log_dir / "contact-2026-08.csv").read_bytes() == header


def test_foreign_files_are_left_alone(cfg):
    add_rows(cfg, [at("2026-04-10T09:00:00+09:00")])
    foreign = {
        "contact-2026-01.csv": "name,email\r\n山田,x@example.jp\r\n".encode(),  # our name, not our format
        "notes.csv": b"anything\r\n",
        "contact-2026-01.csv.bak": b"backup\r\n",
        "README.txt": b"hello",
    }
    for name, data in foreign.items():
        (cfg.log_dir / name).write_bytes(data)
    outcomes = run(cfg)
    assert outcomes["contact-2026-01.csv"].action == "foreign"
    assert "notes.csv" not in outcomes
    for name, data in foreign.items():
        assert (cfg.log_dir / name).read_bytes() == data


def test_undated_rows_are_kept(cfg):
    add_rows(cfg, [at("2026-06-01T09:00:00+09:00"), at("2026-06-20T09:00:00+09:00")])
    path = cfg.log_dir / "contact-2026-06.csv"
    with open(path, "ab") as f:
        f.write(b"not-a-date,20260601-XXXXXX,sent   ,a,b,c,d,,\r\n")
        f.write(b"2026-06-01T09:00:00,20260601-NOZONE,sent   ,a,b,c,d,,\r\n")
    outcome = run(cfg)["contact-2026-06.csv"]
    assert (outcome.removed, outcome.kept, outcome.undated) == (1, 3, 2)
    assert "2 undated rows kept" in outcome.describe()


def test_rewritten_file_keeps_its_private_mode_and_bytes(cfg):
    os.umask(0o022)
    subs = add_rows(cfg, [at("2026-06-01T09:00:00+09:00"), at("2026-06-20T09:00:00+09:00")],
                    message="=1+1\n複数行\n\"引用\"")
    path = cfg.log_dir / "contact-2026-06.csv"
    lines = path.read_bytes().split(b"\r\n")
    run(cfg)
    assert path.read_bytes() == b"\r\n".join([lines[0], lines[2], b""])
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert log_rows(cfg.log_dir)[0]["message"] == "=1+1\n複数行\n\"引用\"" and subs


def test_leftover_temp_of_a_killed_prune_is_removed(cfg):
    add_rows(cfg, [at("2026-06-20T09:00:00+09:00")])
    stale = cfg.log_dir / ".contact-2026-06.csv.prune.tmp"
    stale.write_bytes(b"half written")
    run(cfg, dry_run=True)
    assert stale.exists()  # a dry run changes nothing
    run(cfg)
    assert not stale.exists()


def test_other_forms_and_rotations(cfg):
    daily = replace(cfg, rotation="daily")
    add_rows(daily, [at("2026-06-14T09:00:00+09:00"), at("2026-06-15T09:00:00+09:00"),
                     at("2026-06-15T13:00:00+09:00"), at("2026-06-16T09:00:00+09:00")])
    outcomes = run(daily)
    assert outcomes["contact-2026-06-14.csv"].action == "deleted"
    assert outcomes["contact-2026-06-15.csv"].removed == 1 and outcomes["contact-2026-06-15.csv"].kept == 1
    assert outcomes["contact-2026-06-16.csv"].action == "not-expired"


def test_prune_waits_for_writers_lock(cfg):
    """A writer holding the lock makes prune wait, not skip or corrupt."""
    import fcntl
    import threading
    import time

    add_rows(cfg, [at("2026-06-01T09:00:00+09:00"), at("2026-06-20T09:00:00+09:00")])
    fd = os.open(cfg.log_dir / ".lock", os.O_RDWR)
    fcntl.flock(fd, fcntl.LOCK_EX)
    result = {}
    t = threading.Thread(target=lambda: result.update(run(cfg)))
    t.start()
    time.sleep(0.3)
    assert t.is_alive()  # waiting for the writer
    fcntl.flock(fd, fcntl.LOCK_UN)
    os.close(fd)
    t.join(10)
    assert result["contact-2026-06.csv"].removed == 1


def test_retention_in_days_not_calendar(cfg):
    assert cutoff_for(NOW, 1) == NOW - timedelta(hours=24)
