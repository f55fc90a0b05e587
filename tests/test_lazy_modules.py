"""The two libraries deferred at start-up (bot/lazy_modules.py) behave as the real ones when
they are used, and are not loaded until then. Each check runs in a fresh interpreter: this
process's own imports would hide the difference."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_PROBE = """
import json, sys
deferred = sys.argv[1] == "deferred"
if deferred:
    import bot  # puts the stand-ins in place
import microsoft_agents.hosting.dialogs
from microsoft_agents.hosting.dialogs.prompts import datetime_prompt
from recognizers_text.utilities import StringUtility

def real(name):
    return getattr(sys.modules.get(name), "__file__", None) is not None

before = {name: real(name) for name in ("recognizers_date_time", "emoji")}
found = datetime_prompt.recognize_datetime("tomorrow at 9am", "en-us")
after_datetime = real("recognizers_date_time")
emoji = [StringUtility.is_emoji(text) for text in ("en", "a", "\U0001f600")]
print(json.dumps({
    "before": before,
    "after_datetime": after_datetime,
    "after_emoji": real("emoji"),
    "datetime": [[r.text, r.type_name, r.start, r.end] for r in found],
    "emoji": emoji,
}))
"""


def _probe(mode: str) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    result = subprocess.run(
        [sys.executable, "-c", _PROBE, mode],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    answer: dict[str, object] = json.loads(result.stdout.strip().splitlines()[-1])
    return answer


def test_the_sdk_imports_without_loading_the_deferred_libraries_and_they_load_when_used() -> None:
    deferred = _probe("deferred")

    assert deferred["before"] == {"recognizers_date_time": False, "emoji": False}
    assert deferred["after_datetime"] is True
    assert deferred["after_emoji"] is True


def test_the_deferred_libraries_answer_as_the_real_ones() -> None:
    deferred = _probe("deferred")
    eager = _probe("eager")

    assert eager["before"] == {"recognizers_date_time": True, "emoji": True}
    assert deferred["datetime"] == eager["datetime"]
    assert deferred["datetime"], "the date recognizer found nothing: the probe proves nothing"
    assert deferred["emoji"] == eager["emoji"]
