"""The benchmark suite's quick mode still runs end to end (bench/, issue 5).

It checks that every scenario runs and prints its table and that the JSON holds each
scenario, not the timings (the machine is shared and small). It also checks the burst's
correctness verdicts, which do not depend on timing: every client got every change in order,
and all clients agree.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]

HEADINGS = {
    "freshness": "### 1. Freshness",
    "scale": "### 2. Scale",
    "cost": "### 3. Cost at rest",
    "memory": "### 4. Memory",
    "fanout": "### 5. Fan-out",
    "burst": "### 6. Burst",
    "wire": "### 7. Wire size",
    "stats": "### 8. Stats",
    "engines": "### 9. Several engines",
    "logs": "### 10. Logs",
}


def test_quick_mode_prints_every_table_and_writes_every_scenario(tmp_path: Path) -> None:
    out = tmp_path / "quick.json"
    result = subprocess.run(
        [sys.executable, "-m", "bench", "--quick", "--out", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    for heading in HEADINGS.values():
        assert heading in result.stdout, f"{heading!r} missing from:\n{result.stdout}"
    assert result.stdout.count("|---") >= len(HEADINGS)

    document = json.loads(out.read_text())
    scenarios = document["scenarios"]
    assert set(scenarios) == set(HEADINGS)
    for key, scenario in scenarios.items():
        assert scenario["failed"] is None, (key, scenario["failed"])
        assert scenario["markdown"].startswith(HEADINGS[key])
    assert scenarios["burst"]["in_order"], scenarios["burst"]["errors"]
    assert scenarios["burst"]["clients_agree"]
    assert scenarios["freshness"]["dockstate"]["shown"] > 0
    (size,) = scenarios["stats"]["sizes"].values()
    assert size["dockstate"]["messages_per_second"] > 0
    assert size["dockstate"]["containers_per_message"] >= 20
    for run in scenarios["logs"]["runs"].values():
        assert run["written"] > 0
        assert run.get("adds_up", True), scenarios["logs"]["runs"]
