#!/usr/bin/env python3
"""Times `prune` on a log of 1,000,000 entries over 12 months against baselines that read the
same bytes, in the same run; prints wall seconds (median of R runs), peak memory and ratios.

Usage: python3 bench/prune.py [ENTRIES] [RUNS]    (defaults 1000000 and 3)

Runs compared, each a fresh process on a fresh copy of the log:
  prune            `formmail prune`, retention 180 days: 6 months deleted whole, 1 rewritten
  status           `formmail status`: streams every row of every file (formmail's full scan)
  csv baseline     Python's csv module reading every row of every file
  wc -l baseline   `wc -l` over every file
"""

import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import write_config  # noqa: E402
from formmail.config import load_config  # noqa: E402
from formmail.store import BOM, encode_row, file_name, header_for, row_for  # noqa: E402
from formmail.submission import Submission  # noqa: E402

JST = timezone(timedelta(hours=9))
SURNAMES = "佐藤 鈴木 高橋 田中 伊藤 渡辺 山本 中村 小林 加藤 吉田 山田 佐々木 山口 松本 井上 木村 林 斎藤 清水".split()
GIVEN = "太郎 花子 翔太 陽菜 大輔 美咲 健一 結衣 直樹 さくら 蓮 葵 拓海 凛 悠真".split()
SENTENCES = [
    "いつもお世話になっております。", "先日は丁寧なご対応をいただきありがとうございました。",
    "御社の商品について、見積もりをお願いしたくご連絡いたしました。",
    "納期は来月末を希望しておりますが、可能でしょうか。",
    "数量は100個程度を予定しています。", "お手数ですが、折り返しご連絡いただけますと幸いです。",
    "電話でのご連絡は平日10時〜17時でお願いします。", "資料をPDFでお送りいただけますか。",
    "以前購入した製品の修理について相談させてください。", "よろしくお願いいたします。",
]
SCRIPT = "import resource, subprocess, sys, time; t = time.perf_counter(); " \
         "r = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL); " \
         "print(time.perf_counter() - t, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, r.returncode)"
CSV_READ = ("import csv, sys\nn = 0\nfor p in sys.argv[1:]:\n"
            "    with open(p, encoding='utf-8-sig', newline='') as f:\n"
            "        n += sum(1 for _ in csv.reader(f))\nprint(n)\n")


def generate(config, entries, now):
    """Write `entries` rows spread evenly over the 12 months before `now`, one file a month."""
    form = config.form("contact")
    rng = random.Random(1)
    header = encode_row(header_for(form))
    start = now - timedelta(days=365)
    step = timedelta(days=365) / entries
    config.log_dir.mkdir(parents=True, exist_ok=True)
    files, batch, current = {}, [], None
    for i in range(entries):
        when = (start + step * i).replace(microsecond=0)
        name = file_name("contact", when)
        if name != current:
            if batch:
                files[current].write(b"".join(batch))
                batch = []
            current = name
            files[name] = open(config.log_dir / name, "wb")
            files[name].write(BOM + header)
        person = rng.choice(SURNAMES) + " " + rng.choice(GIVEN)
        message = "\n".join(rng.choice(SENTENCES) for _ in range(rng.randint(2, 5)))
        sub = Submission(f"{when:%Y%m%d}-{i:06X}", when, "contact",
                         {"name": person, "email": f"user{i}@example.jp",
                          "phone": f"0{rng.randint(3, 9)}-{rng.randint(1000, 9999)}-{rng.randint(1000, 9999)}",
                          "message": message}, (), f"user{i}@example.jp", person, "203.0.113.5")
        batch.append(encode_row(row_for(form, sub, "sent")))
        if len(batch) >= 5000:
            files[current].write(b"".join(batch))
            batch = []
    files[current].write(b"".join(batch))
    for f in files.values():
        f.close()


def measure(argv, env=None):
    out = subprocess.run([sys.executable, "-c", SCRIPT, *argv], capture_output=True, text=True,
                         env=env, check=True).stdout.split()
    seconds, peak_kib, rc = float(out[0]), int(out[1]), int(out[2])
    if rc not in (0, 1):
        raise SystemExit(f"{argv} failed with {rc}")
    return seconds, peak_kib


def main():
    entries = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    runs = int(sys.argv[2]) if len(sys.argv) > 2 else 3
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as tmp:
        tmp = Path(tmp)
        master = tmp / "master"
        master.mkdir()
        path = write_config(master, formmail={"retention_days": "180", "auto_prune": "no",
                                              "timezone": "Asia/Tokyo"})
        config = load_config(path)
        now = datetime.now(JST).replace(microsecond=0)
        t = time.perf_counter()
        generate(config, entries, now)
        size = sum(p.stat().st_size for p in config.log_dir.glob("*.csv"))
        print(f"log: {entries} entries in {len(list(config.log_dir.glob('*.csv')))} files, "
              f"{size / 1e6:.0f} MB, generated in {time.perf_counter() - t:.1f} s")
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        results = {k: [] for k in ("prune", "status", "csv baseline", "wc -l baseline", "python3 -c pass")}
        for _ in range(runs):
            work = tmp / "work"
            if work.exists():
                shutil.rmtree(work)
            shutil.copytree(master, work)
            cfg = work / "config.ini"
            files = sorted(str(p) for p in (work / "data").glob("*.csv"))
            results["status"].append(measure([sys.executable, "-m", "formmail", "-c", str(cfg), "status"], env))
            results["csv baseline"].append(measure([sys.executable, "-c", CSV_READ, *files]))
            results["wc -l baseline"].append(measure(["wc", "-l", *files]))
            results["python3 -c pass"].append(measure([sys.executable, "-c", "pass"]))
            results["prune"].append(measure([sys.executable, "-m", "formmail", "-c", str(cfg), "prune"], env))
        prune_out = subprocess.run([sys.executable, "-m", "formmail", "-c", str(path), "prune", "--dry-run"],
                                   capture_output=True, text=True, env=env).stdout
    print(f"prune (dry run) would do: {prune_out.strip().splitlines()[-1]}")
    med = {k: (statistics.median(s for s, _ in v), max(m for _, m in v)) for k, v in results.items()}
    base = med["csv baseline"][0]
    for name, (seconds, peak) in med.items():
        print(f"{name:16} median {seconds:7.3f} s   peak RSS {peak / 1024:7.1f} MiB   "
              f"ratio to csv baseline {seconds / base:5.2f}")


if __name__ == "__main__":
    main()
