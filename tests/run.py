"""`make test`: the whole suite, its parts at once, and the wall time of each.

Three `ape test` sessions started together, each with worker processes and Anvils of
its own, so nothing is shared between them; a worker waits on its node (and on bots,
the CLI, the browser) much of the time, so together they keep both cores busy:

* unit: `tests/unit` on UNIT_WORKERS (default 3) pytest-xdist workers;
* end-to-end and browser: `tests/e2e` and `tests/browser` on E2E_WORKERS (default 3)
  workers; a module whose tests share one world (a node, the playground) is an
  `xdist_group`, run by one worker;
* fuzz: `tests/fuzz`, a worker process and Anvil per core (FUZZ_WORKERS), in a session
  of its own: it copies its deployments' state from the node by tracing their
  transactions, which a node a long session has run on may refuse.

The unit and end-to-end tests are separate sessions because ape's isolation (a chain
snapshot per test and fixture) does not survive a test that connects to a node of its
own in the same worker. Each part writes to `out/test/<part>.log`, printed when the part
ends, its slowest tests included. Arguments go to every part (`python -m tests.run -x`).
Exits non-zero if any part failed."""

import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APE = str(Path(sys.executable).parent / "ape")
NO_STEP_LOGS = {"INVERSE_ANVIL_STEPS_TRACING": "0"}
LOGS = ROOT / "out" / "test"


@dataclass
class Part:
    name: str
    args: list[str]
    env: dict = field(default_factory=dict)  # for this part's processes
    process: subprocess.Popen | None = None
    started: float = 0.0
    seconds: float = 0.0
    cpu: float = 0.0  # seconds of CPU, its workers, nodes, bots and browser included
    log: Path = field(init=False)

    def __post_init__(self):
        self.log = LOGS / f"{self.name.split()[0]}.log"

    def start(self, extra: list[str]):
        self.started = time.monotonic()
        # Bytecode is cached even where the environment says not to: each of the many
        # Python processes (workers, CLI runs, keepers) would otherwise compile the
        # project and pytest would re-write ape's modules again (3 s of CPU each).
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | self.env
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [APE, "test", *self.args, *extra], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT
            )

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def poll(self) -> bool:
        """Whether it has just ended."""
        if not self.running:
            return False
        pid, status, usage = os.wait4(self.process.pid, os.WNOHANG)
        if pid == 0:
            return False
        self.seconds = time.monotonic() - self.started
        self.cpu = usage.ru_utime + usage.ru_stime
        self.process.returncode = os.waitstatus_to_exitcode(status)
        return True


def main(extra: list[str]) -> int:
    LOGS.mkdir(parents=True, exist_ok=True)
    unit_workers = os.environ.get("UNIT_WORKERS", "3")
    e2e_workers = os.environ.get("E2E_WORKERS", "3")
    slowest = "--durations=10"
    unit = Part("unit", ["-n", unit_workers, slowest, "tests/unit"])
    # Only the unit tests read Anvil's opcode logs (the gas breakdown, ape's account of a
    # revert without a reason): elsewhere Anvil keeps none (bin/anvil), 5% less CPU.
    e2e = Part(
        "end-to-end and browser",
        ["-n", e2e_workers, "--dist", "loadgroup", slowest, "tests/e2e", "tests/browser"],
        NO_STEP_LOGS,
    )
    fuzz = Part("fuzz", ["tests/fuzz"], NO_STEP_LOGS)
    parts = [unit, e2e, fuzz]

    began = time.monotonic()
    print(f"make test: the unit, end-to-end and fuzz tests at once; logs in {LOGS.relative_to(ROOT)}/", flush=True)
    for part in parts:
        part.start(extra)
    while any(p.running for p in parts):
        time.sleep(1)
        for part in parts:
            if part.poll():
                print(f"\n---------------- {part.name} ({part.seconds:.0f} s) ----------------", flush=True)
                sys.stdout.write(part.log.read_text())
                sys.stdout.flush()

    total = time.monotonic() - began
    print("\nmake test:")
    for part in parts:
        outcome = "passed" if part.process.returncode == 0 else f"FAILED (exit {part.process.returncode})"
        print(f"  {part.name:<24} {part.seconds:5.0f} s  (CPU {part.cpu:5.0f} s)  {outcome}")
    whole = round(total)
    print(f"  {'in all':<24} {whole:5d} s  ({whole // 60} min {whole % 60} s)")
    return 0 if all(p.process.returncode == 0 for p in parts) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
