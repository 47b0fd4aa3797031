"""status: counts per form, oldest entry, foreign files, next prune."""

from formmail.logstatus import report
from formmail.store import FAILED, SENT, SubmissionLog
from logdata import add_rows, at

NOW = at("2026-07-15T12:00:00+09:00")


def test_counts_and_advice(config):
    add_rows(config, [at("2026-05-02T09:00:00+09:00")], status=SENT)
    add_rows(config, [at("2026-06-02T09:00:00+09:00")] * 2, status=FAILED)
    add_rows(config, [at("2026-07-02T09:00:00+09:00")])
    (config.log_dir / "contact-2026-01.csv").write_text("not,ours\r\n")
    text = "\n".join(report(config, SubmissionLog.for_config(config), NOW))
    assert ("form contact: 4 submissions in 3 files; mail sent 1, failed 2, pending 1; "
            "oldest 2026-05-02T09:00:00+09:00") in text
    assert "contact-2026-01.csv: not a formmail log" in text
    assert "3 mails not sent: run `formmail.cgi resend`" in text
    assert "next automatic prune: with the next request" in text


def test_empty_log(config):
    assert "no submissions recorded" in "\n".join(report(config, SubmissionLog.for_config(config), NOW))
