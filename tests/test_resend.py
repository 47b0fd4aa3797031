"""resend: failed and stale pending mails go out again, sent ones never do; outcomes recorded."""

from dataclasses import replace

from conftest import RecordingTransport, log_rows, write_config
from formmail.app import FormMail
from formmail.config import load_config
from formmail.resend import IN_FLIGHT, resend
from formmail.store import FAILED, SENT
from logdata import add_rows, at

NOW = at("2026-07-15T12:00:00+09:00")


def statuses(cfg):
    return {r["id"]: r["mail"].strip() for r in log_rows(cfg.log_dir)}


def test_resends_failed_and_stale_pending_only(config):
    failed = add_rows(config, [at("2026-07-01T09:00:00+09:00")], status=FAILED,
                      message="再送してほしい本文")
    sent = add_rows(config, [at("2026-07-02T09:00:00+09:00")], status=SENT)
    stale = add_rows(config, [NOW - IN_FLIGHT])                   # crashed mid-request
    young = add_rows(config, [NOW - IN_FLIGHT / 2])                # may still be in flight
    transport = RecordingTransport()
    summary = resend(FormMail(config, transport=transport), NOW)
    assert [msg["X-Formmail-Id"] for msg, _, _ in transport.sent] == [failed[0].id, stale[0].id]
    assert statuses(config) == {failed[0].id: "sent", sent[0].id: "sent", stale[0].id: "sent",
                                young[0].id: "pending"}
    assert len(summary.sent) == 2 and len(summary.waiting) == 1 and summary.still_pending
    msg = transport.sent[0][0]
    assert "再送してほしい本文" in msg.get_content()
    assert msg["Reply-To"].addresses[0].addr_spec == "taro@example.jp"
    assert transport.sent[0][2] == ("owner@formmail.test",)


def test_second_run_sends_nothing_twice(config):
    add_rows(config, [at("2026-07-01T09:00:00+09:00")] * 3, status=FAILED)
    transport = RecordingTransport()
    resend(FormMail(config, transport=transport), NOW)
    again = resend(FormMail(config, transport=transport), NOW)
    assert len(transport.sent) == 3 and again.sent == [] and not again.still_pending


def test_still_failing_stays_failed(config):
    subs = add_rows(config, [at("2026-07-01T09:00:00+09:00")], status=FAILED)
    summary = resend(FormMail(config, transport=RecordingTransport(fail="MTA down")), NOW)
    assert summary.failed and summary.still_pending
    assert statuses(config) == {subs[0].id: "failed"}


def test_form_removed_from_config_is_reported(tmp_path):
    path = write_config(tmp_path, extra="""
        [form:old]
        recipients = x@formmail.test
        fields = a
        """)
    config = load_config(path)
    from formmail.store import SubmissionLog
    from logdata import make_submission

    old_form = config.forms["old"]
    log = SubmissionLog.for_config(config)
    entry = log.append(old_form, replace(make_submission(at("2026-07-01T09:00:00+09:00")), form="old",
                                         values={"a": "1"}))
    log.mark(entry, FAILED)
    del config.forms["old"]
    summary = resend(FormMail(config, transport=RecordingTransport()), NOW)
    assert len(summary.orphaned) == 1 and summary.still_pending


def test_fields_dropped_from_the_config_come_back_as_extras(config):
    add_rows(config, [at("2026-07-01T09:00:00+09:00")], status=FAILED, phone="03-1234-5678")
    form = config.forms["contact"]
    config.forms["contact"] = replace(form, fields=tuple(f for f in form.fields if f.name != "phone"))
    transport = RecordingTransport()
    resend(FormMail(config, transport=transport), NOW)
    assert "phone: 03-1234-5678" in transport.sent[0][0].get_content()
