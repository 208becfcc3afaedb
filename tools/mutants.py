"""The mutation probe: plants one known bug at a time in the contracts, compiles it in
a scratch copy of the project, runs the unit tests and the stateful fuzz against it
and prints which of them caught it. A mutant that neither catches is a gap in the
tests: it needs a test that kills it. Writes docs/MUTANTS.md.

    make mutants                      # every mutant
    make mutants ONLY="threshold,fee"  # those whose name contains either word
    make mutants MUTANT_STEPS=50000   # the fuzz's step budget per mutant

Each mutant replaces one exact piece of one contract; a piece that is gone (the
contract changed) stops the probe, so the list is kept in step with the code. A
mutant that makes the pool too large for EIP-170 fails every test for the wrong
reason: it is reported as such and does not count.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
POOL, BOOK, ORACLE, LP, MATH = (
    f"contracts/{name}.vy" for name in ("InversePool", "OrderBook", "ChainlinkOracle", "LpToken", "market_math")
)


@dataclass(frozen=True)
class Mutant:
    name: str
    path: str
    old: str
    new: str


MUTANTS = [
    # Rounding flipped to the user's side.
    Mutant("trade fee rounded down", MATH, "return (amount * rate + WAD - 1) // WAD", "return amount * rate // WAD"),
    Mutant(
        "inverse value rounded down",
        MATH,
        "return self.ceil_div(supply * nav, value_scale)",
        "return supply * nav // value_scale",
    ),
    Mutant(
        "price loss rounded down",
        MATH,
        "loss: uint256 = self.ceil_div(leverage * (price - ref_price), ref_price)",
        "loss: uint256 = leverage * (price - ref_price) // ref_price",
    ),
    Mutant(
        "management fee rounded down",
        MATH,
        "self.ceil_div(management_fee * (at - fee_time), constants.YEAR)",
        "management_fee * (at - fee_time) // constants.YEAR",
    ),
    Mutant(
        "partial fill's slippage bound rounded down",
        POOL,
        "return market_math.ceil_div(min_out * filled, amount)",
        "return min_out * filled // amount",
    ),
    Mutant(
        "LP shares burnt for a payment rounded down",
        LP,
        "return (assets * ((self._supply_word & _MASK_128) + virtual) + lp_value) // (lp_value + 1)",
        "return assets * ((self._supply_word & _MASK_128) + virtual) // (lp_value + 1)",
    ),
    # A bound one second or one wei off.
    Mutant(
        "time rebalance a second late (> for >=)",
        POOL,
        "if block.timestamp >= schedule.last_rebalance + schedule.interval:",
        "if block.timestamp > schedule.last_rebalance + schedule.interval:",
    ),
    Mutant(
        "threshold rebalance needs more than the threshold (> for >=)",
        POOL,
        "if move * WAD >= schedule.threshold * ref_price:",
        "if move * WAD > schedule.threshold * ref_price:",
    ),
    Mutant(
        "a round at T does not price the order (> for >=)",
        ORACLE,
        "return updated_at >= not_before and",
        "return updated_at > not_before and",
    ),
    Mutant(
        "an order is void at its expiry second (>= for >)",
        ORACLE,
        "if block.timestamp > q.expires_at and self._is_last_round(",
        "if block.timestamp >= q.expires_at and self._is_last_round(",
    ),
    # A check removed.
    Mutant(
        "a round observed before the request prices it",
        ORACLE,
        "return updated_at >= not_before and (started_at == 0 or started_at >= requested_at)",
        "return updated_at >= not_before",
    ),
    Mutant(
        "a later round than the first after T is accepted",
        ORACLE,
        """        assert not prev_exists or not self._qualifies(
            prev_started_at, prev_updated_at, q.not_before, q.requested_at
        ), "oracle: not the order's round"
""",
        "",
    ),
    Mutant(
        "a rebalance jumps over due orders",
        POOL,
        'assert not self._orders_due(updated_at, round_id), "pool: settle due orders first"',
        "pass",
    ),
    Mutant(
        "holders owed more than the pool holds (no NAV cap)",
        MATH,
        "return min(raw_nav, assets * value_scale // supply)",
        "return raw_nav",
    ),
    Mutant(
        "LP withdrawal ignores the backing rule",
        MATH,
        "required: uint256 = self.ceil_div(min_backing * inverse, WAD)",
        "required: uint256 = 0",
    ),
    Mutant(
        "keeper budget without its cap",
        POOL,
        "min(schedule.bounty_budget + block.timestamp - schedule.last_rebalance, constants.BOUNTY_BUDGET)",
        "schedule.bounty_budget + block.timestamp - schedule.last_rebalance",
    ),
    Mutant(
        "an order may be priced before the one ahead of it",
        BOOK,
        "not_before: uint256 = max(block.timestamp + min_delay, queue.last_not_before)",
        "not_before: uint256 = block.timestamp + min_delay",
    ),
    Mutant(
        "a settler's order is not checked against its commitment",
        BOOK,
        'assert self._orders[o.id] == self._commitment(o), "orders: unknown order"',
        "pass",
    ),
    # Settlement at the latest price instead of the order's round.
    Mutant(
        "orders settle at the latest price",
        POOL,
        "m = self._market(settings, pricing.price, pricing.at)",
        "m = self._live_market(settings)",
    ),
    # A fee left out.
    Mutant("redeem fee left out", MATH, "redeem_fee: uint256 = self.fee(gross, fee_rate)", "redeem_fee: uint256 = 0"),
    Mutant(
        "a refused exit pays its settler nothing",
        POOL,
        "fee_shares = min(o.amount, market_math.ceil_div(settle_fee * _VALUE_SCALE, m.nav))",
        "fee_shares = 0",
    ),
]


def run(command: list[str], cwd: Path, env: dict, timeout: int) -> tuple[int, str]:
    try:
        done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return -1, ""
    return done.returncode, done.stdout + done.stderr


def verdict(returncode: int, output: str) -> str:
    """What a test run said: the first failing test, or why it did not run."""
    if returncode == 0:
        return "survived"
    if returncode == -1:
        return "timed out"
    if re.search(r"CreateContractSizeLimit|max code size|code size limit", output, re.IGNORECASE):
        return "too large to deploy"
    failed = re.search(r"^(?:FAILED|ERROR) (\S+)", output, re.MULTILINE)
    if failed:
        return "caught: " + failed.group(1).split("/")[-1]
    return f"broken (exit {returncode})"


def probe(mutant: Mutant, scratch: Path, env: dict, steps: int, logs: Path) -> dict:
    source = scratch / mutant.path
    original = source.read_text()
    if original.count(mutant.old) != 1:
        sys.exit(f"mutant {mutant.name!r}: its piece is not in {mutant.path} exactly once; update tools/mutants.py")
    source.write_text(original.replace(mutant.old, mutant.new))
    try:
        code, output = run(["ape", "compile", "--force"], scratch, env, 900)
        if code != 0:
            return {"unit": "does not compile", "fuzz": "does not compile"}
        pytest = ["ape", "test", "-x", "-q", "-p", "no:cacheprovider"]
        fuzz_env = env | {"HYPOTHESIS_PROFILE": "mutants", "FUZZ_STEPS": str(steps)}
        result = {}
        for suite, suite_env in (("unit", env), ("fuzz", fuzz_env)):
            code, output = run([*pytest, f"tests/{suite}"], scratch, suite_env, 2_400)
            (logs / f"{slug(mutant.name)}.{suite}.log").write_text(output)
            result[suite] = verdict(code, output)
        return result
    finally:
        source.write_text(original)


def slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def scratch_copy() -> Path:
    """The project's tracked files as they are now, in a directory of their own."""
    scratch = Path(tempfile.mkdtemp(prefix="inverse-mutants-"))
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout.split(b"\0")
    for name in filter(None, (f.decode() for f in files)):
        if (ROOT / name).is_file():
            (scratch / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, scratch / name)
    (scratch / "node_modules").symlink_to(ROOT / "node_modules")  # bin/anvil runs npm's
    return scratch


def caught(result: str) -> bool:
    return result.startswith("caught")


def report(results: dict[str, dict], steps: int) -> list[str]:
    """The table of every mutant's last result (`results`: by name) and the kill rate."""
    rows = [(m, results.get(m.name, {"unit": "not run", "fuzz": "not run", "commit": ""})) for m in MUTANTS]
    viable = [r for _, r in rows if caught(r["unit"]) or r["unit"] == "survived"]
    unit = sum(caught(r["unit"]) for r in viable)
    fuzz = sum(caught(r["fuzz"]) for r in viable)
    either = sum(caught(r["unit"]) or caught(r["fuzz"]) for r in viable)
    return [
        "| Planted bug | Contract | Unit tests | Stateful fuzz | Commit |",
        "|---|---|---|---|---|",
        *(f"| {m.name} | {Path(m.path).stem} | {r['unit']} | {r['fuzz']} | {r['commit']} |" for m, r in rows),
        "",
        f"Killed: {either} of {len(viable)} by either; by the unit tests {unit}, by the fuzz {fuzz} "
        f"(at {steps:,} steps a mutant).",
    ]


def earlier_results(path: Path) -> dict[str, dict]:
    """The rows of a report written before, by mutant name: a run of some mutants
    updates theirs and keeps the others'."""
    results = {}
    if path.exists():
        for line in path.read_text().splitlines():
            cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
            if len(cells) == 5 and cells[0] not in ("Planted bug", "---"):
                results[cells[0]] = {"unit": cells[2], "fuzz": cells[3], "commit": cells[4]}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="run the mutants whose name contains this (or, a,b: either)")
    parser.add_argument("--steps", type=int, default=20_000, help="the fuzz's step budget per mutant")
    parser.add_argument("--report", default="docs/MUTANTS.md", help="where to write the table ('' for nowhere)")
    args = parser.parse_args()
    words = [word.strip().lower() for word in args.only.split(",")]
    chosen = [m for m in MUTANTS if any(word in m.name.lower() for word in words)]
    if not chosen:
        sys.exit(f"no mutant's name contains any of {args.only!r}")

    started = time.monotonic()
    scratch = scratch_copy()
    logs = Path(tempfile.mkdtemp(prefix="inverse-mutants-logs-"))
    env = os.environ | {"PYTHONPATH": str(scratch)}
    try:
        print("compiling and fuzzing the unchanged contracts", flush=True)
        code, output = run(["ape", "compile", "--force"], scratch, env, 900)
        if code != 0:
            sys.exit("the unchanged contracts do not compile:\n" + output)
        # The fuzz must pass on the unchanged contracts, or every mutant would be "caught".
        code, output = run(
            ["ape", "test", "-x", "-q", "-p", "no:cacheprovider", "tests/fuzz"],
            scratch,
            env | {"HYPOTHESIS_PROFILE": "mutants", "FUZZ_STEPS": str(args.steps)},
            2_400,
        )
        if code != 0:
            sys.exit("the fuzz fails on the unchanged contracts:\n" + output[-3_000:])
        rows = []
        for number, mutant in enumerate(chosen, 1):
            began = time.monotonic()
            result = probe(mutant, scratch, env, args.steps, logs)
            rows.append((mutant, result))
            print(
                f"[{number}/{len(chosen)}] {mutant.name}: unit tests {result['unit']}; fuzz {result['fuzz']}"
                f" ({time.monotonic() - began:.0f} s)",
                flush=True,
            )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True)
    this_run = {m.name: r | {"commit": commit.stdout.strip()} for m, r in rows}
    for mutant, result in rows:
        print(f"{mutant.name}: unit tests {result['unit']}; fuzz {result['fuzz']}")
    print(f"{time.monotonic() - started:.0f} s; each run's output: {logs}")
    if args.report:
        path = ROOT / args.report
        lines = report(earlier_results(path) | this_run, args.steps)
        header = [
            "# Mutation probe",
            "",
            "Each row is one bug planted in the contracts (`tools/mutants.py`), compiled and run",
            "against the unit tests (`tests/unit`, stopping at the first failure: the test named) and",
            "the stateful fuzz (`tests/fuzz`), on the commit shown. `make mutants` reruns them all;",
            '`make mutants ONLY="a,b"` the rows whose name has a or b, keeping the others.',
            "",
        ]
        path.write_text("\n".join(header + lines) + "\n")
        print(f"written to {args.report}: {lines[-1]}")


if __name__ == "__main__":
    main()
