"""Run by test_concurrency: in a loop until the file argv[2] exists, plants rows dated at the
start of the current month in the live file and prunes with a cut-off just after them, so that
every prune rewrites the file the writers are appending to. Prints how many rewrites it made."""

import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from formmail.app import make_clock  # noqa: E402
from formmail.config import load_config  # noqa: E402
from formmail.retention import prune_locked  # noqa: E402
from formmail.store import MAINTENANCE_LOCK_NAME, SubmissionLog  # noqa: E402
from logdata import period_start, plant_rows  # noqa: E402

config = load_config(sys.argv[1])
stop = Path(sys.argv[2])
log = SubmissionLog.for_config(config)
rewrites = 0
while not stop.exists():
    start = period_start(make_clock(config.timezone)())
    plant_rows(config, start + timedelta(seconds=1), 5)
    with log.locked(MAINTENANCE_LOCK_NAME, timeout=60):
        outcomes = prune_locked(log, start + timedelta(seconds=2))
    rewrites += sum(o.action == "rewritten" and o.removed == 5 for o in outcomes)
    time.sleep(0.01)
print(rewrites)
