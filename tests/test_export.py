"""export: one form, a date range, UTF-8 with BOM or cp932 with counted replacements."""

import csv
import io
from dataclasses import replace

from formmail.export import export
from logdata import add_rows, at


def rows_of(data, encoding="utf-8-sig"):
    return list(csv.reader(io.StringIO(data.decode(encoding), newline="")))


def test_date_range_across_files_with_labels(config):
    add_rows(config, [at("2026-05-31T23:00:00+09:00"), at("2026-06-01T09:00:00+09:00"),
                      at("2026-06-30T10:00:00+09:00"), at("2026-07-01T00:00:00+09:00")])
    out = io.BytesIO()
    result = export(config, "contact", out, "2026-06-01", "2026-06-30")
    data = out.getvalue()
    assert data.startswith(b"\xef\xbb\xbf") and result.rows == 2
    rows = rows_of(data)
    assert rows[0][:5] == ["received_at", "id", "mail", "お名前", "メールアドレス"]
    assert [r[0][:10] for r in rows[1:]] == ["2026-06-01", "2026-06-30"]


def test_union_of_columns_after_a_field_change(config):
    add_rows(config, [at("2026-06-01T09:00:00+09:00")], phone="03-1111-2222")
    form = config.forms["contact"]
    config.forms["contact"] = replace(form, fields=form.fields[:2])
    add_rows(config, [at("2026-06-02T09:00:00+09:00")])
    out = io.BytesIO()
    assert export(config, "contact", out).rows == 2
    rows = rows_of(out.getvalue())
    phone = rows[0].index("phone")  # no longer configured: no label, kept all the same
    assert rows[1][phone] == "03-1111-2222" and rows[2][phone] == ""


def test_cp932_replaces_and_counts(config):
    add_rows(config, [at("2026-06-01T09:00:00+09:00")], message="髙橋 ① 🍣 ♥ 𠮷")
    out = io.BytesIO()
    result = export(config, "contact", out, encoding="cp932")
    rows = rows_of(out.getvalue(), "cp932")
    assert not out.getvalue().startswith(b"\xef\xbb\xbf")
    assert rows[1][rows[0].index("お問い合わせ内容")] == "髙橋 ① 〓 〓 〓"
    assert result.replaced == 3


def test_formula_cells_keep_their_guard(config):
    add_rows(config, [at("2026-06-01T09:00:00+09:00")], message="=HYPERLINK(\"http://evil.test\")")
    out = io.BytesIO()
    export(config, "contact", out)
    assert "'=HYPERLINK" in out.getvalue().decode("utf-8-sig")


def test_nothing_recorded(config):
    out = io.BytesIO()
    assert export(config, "contact", out).rows == 0
    assert rows_of(out.getvalue())[0][0] == "received_at"
