"""State files: dated lines read leniently (torn and blank lines skipped), replaced whole."""

from formmail import statefile
from formmail.store import SubmissionLog


def test_round_trip_and_age_filter(tmp_path):
    log = SubmissionLog(tmp_path)
    path = tmp_path / ".state"
    statefile.write(log, path, [(100.0, ["a"]), (200.5, ["b", "ref"])])
    assert statefile.read(path, 0) == [(100.0, ["a"]), (200.5, ["b", "ref"])]
    assert statefile.read(path, 150) == [(200.5, ["b", "ref"])]
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_torn_and_blank_lines_are_skipped(tmp_path):
    path = tmp_path / ".state"
    path.write_text("100.000 a\n\n   \nnot-a-time x\n200.000 b\n300.0")
    assert statefile.read(path, 0) == [(100.0, ["a"]), (200.0, ["b"]), (300.0, [])]


def test_missing_file_is_empty(tmp_path):
    assert statefile.read(tmp_path / "absent", 0) == []
