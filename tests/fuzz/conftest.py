"""The fuzz run's summary: how many markets share a FUZZ_STEPS budget, and what the
machines did, printed at the end (and written to FUZZ_REPORT if set)."""

import os
from pathlib import Path

from tests.fuzz import parallel


def pytest_collection_finish(session):
    machines = [item for item in session.items if Path(item.path).name.endswith("_machine.py")]
    parallel.SELECTED["markets"] = max(1, len(machines))


def pytest_terminal_summary(terminalreporter):
    if not parallel.RESULTS:
        return
    terminalreporter.section("stateful fuzzing")
    for line in parallel.summary_lines(parallel.RESULTS):
        terminalreporter.write_line(line)
    if os.environ.get("FUZZ_REPORT"):
        parallel.write_report(Path(os.environ["FUZZ_REPORT"]), parallel.RESULTS)
        terminalreporter.write_line(f"written to {os.environ['FUZZ_REPORT']}")
