"""Running a state machine at scale.

The test, under ape, deploys its market once. The state that deployment wrote is
copied into one Anvil per worker process (`python -m tests.fuzz.parallel`); each worker
runs hypothesis on its share of the examples against its own Anvil through bare
JSON-RPC (`rpc.py`) and reports its figures and, if it found one, the failure with
hypothesis's shrunk example, which the test then fails with.

Workers: FUZZ_WORKERS (default: the machine's cores). Examples per market: the
hypothesis profile's `max_examples`, or, with FUZZ_STEPS, enough for that many
stateful steps shared equally by the markets the run selected.
"""

import hashlib
import importlib
import inspect
import json
import math
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from hypothesis import settings
from hypothesis.reporting import with_reporter
from hypothesis.stateful import initialize, rule, run_state_machine_as_test

ROOT = Path(__file__).resolve().parents[2]
PROGRESS_EVERY = 60  # seconds between a worker's progress lines
SELECTED = {"markets": 1}  # how many markets this run fuzzes (set at collection)
RESULTS: list["Result"] = []  # every market's figures, for the summary at the end


@dataclass
class Market:
    """A deployed market, as plain data a worker can load."""

    label: str
    decimals: int
    pool: str
    book: str
    lp: str
    lens: str
    feed: str
    oracle: str
    collateral: str
    owner: str
    guardian: str
    keeper: str
    actors: list[str]
    state: dict  # the accounts the deployment wrote, as `anvil_loadState` takes them
    timestamp: int  # the chain's time after the deployment


@dataclass
class Result:
    """What the workers of one market did."""

    machine: str
    market: str
    examples: int = 0
    steps: int = 0
    seconds: float = 0.0  # the test's wall time, deployment and workers' start included
    rules: Counter = field(default_factory=Counter)  # rule -> runs
    outcomes: Counter = field(default_factory=Counter)  # "label: revert reason" or "label: ok" -> times
    figures: Counter = field(default_factory=Counter)  # the machine's own counts
    failure: str | None = None


# ---------------------------------------------------------------- the test's side (ape)


def deploy_market(accounts, owner, decimals: int, leverage: int, **deploy) -> Market:
    """A market deployed through ape, its actors funded and approved; `deploy` goes to
    `deploy_mock_system`."""
    from ape import chain
    from ape_ethereum.multicall.constants import MULTICALL3_ADDRESS, MULTICALL3_CODE

    from inverse.deploy import deploy_mock_system, order_book_of

    guardian, keeper, actors = accounts[1], accounts[2], tuple(accounts[3:7])
    first_block = chain.blocks.head.number + 1
    system = deploy_mock_system(
        owner, leverages=(leverage,), collateral_decimals=decimals, guardian=guardian.address, **deploy
    )
    pool = next(iter(system.pools.values()))
    book = order_book_of(pool)
    for actor in actors:
        system.collateral.mint(actor, 10**12 * 10**decimals, sender=actor)
        system.collateral.approve(book, 2**256 - 1, sender=actor)
    state = _state_written_since(chain.provider.web3, first_block)
    # Multicall3, which the workers read views through (`rpc.Views`).
    code = {"nonce": 1, "balance": "0x0", "code": MULTICALL3_CODE.to_0x_hex(), "storage": {}}
    state["accounts"][MULTICALL3_ADDRESS.lower()] = code
    return Market(
        label=f"{decimals}dec-{leverage}x",
        decimals=decimals,
        pool=pool.address,
        book=book.address,
        lp=pool.lp_token(),
        lens=pool.lens(),
        feed=system.feed.address,
        oracle=system.oracle.address,
        collateral=system.collateral.address,
        owner=owner.address,
        guardian=guardian.address,
        keeper=keeper.address,
        actors=[a.address for a in actors],
        state=state,
        timestamp=chain.blocks.head.timestamp,
    )


def _state_written_since(web3, first_block: int) -> dict:
    """Every account the transactions from `first_block` on wrote, with its code,
    storage, balance and nonce, from each transaction's state diff. (ape's Anvil
    traces every step: a dump of its whole history grows by megabytes a test.)"""
    accounts = {}
    for number in range(first_block, web3.eth.block_number + 1):
        for tx_hash in web3.eth.get_block(number)["transactions"]:
            options = {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}
            diff = web3.provider.make_request("debug_traceTransaction", [tx_hash.to_0x_hex(), options])["result"]
            for address, pre in diff["pre"].items():
                account = accounts.setdefault(address, {"nonce": 0, "balance": "0x0", "code": "0x", "storage": {}})
                for name in ("nonce", "balance", "code"):
                    account[name] = pre.get(name, account[name])
                post = diff["post"].get(address, {})
                for slot in pre.get("storage", {}):
                    if slot not in post.get("storage", {}):
                        account["storage"].pop(slot, None)  # cleared: absent from the diff's post state
            for address, post in diff["post"].items():
                account = accounts.setdefault(address, {"nonce": 0, "balance": "0x0", "code": "0x", "storage": {}})
                account.update({name: post[name] for name in ("nonce", "balance", "code") if name in post})
                account["storage"].update(post.get("storage", {}))
    return {"accounts": accounts}


def run_machine(machine: type, market: Market, started: float) -> Result:
    """Runs `machine` on `market` in the workers; records the figures (the test's
    wall time counted from `started`) and fails the test with what failed."""
    import pytest

    profile = settings()
    examples = profile.max_examples
    if os.environ.get("FUZZ_STEPS"):
        share = int(os.environ["FUZZ_STEPS"]) / SELECTED["markets"]
        examples = math.ceil(share / profile.stateful_step_count)
    workers = min(_workers(), examples)
    result = Result(machine.__name__, market.label)
    sources = _sources_digest()
    with tempfile.TemporaryDirectory(prefix="fuzz-") as folder:
        job = Path(folder, "job.json")
        job.write_text(
            json.dumps({"machine": f"{machine.__module__}:{machine.__qualname__}", "market": asdict(market)})
        )
        processes = []
        for index in range(workers):
            share = examples // workers + (index < examples % workers)
            out = Path(folder, f"result-{index}.json")
            command = [sys.executable, "-m", "tests.fuzz.parallel", str(job), str(share), str(index), str(out)]
            env = os.environ | {"PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
            processes.append((subprocess.Popen(command, cwd=ROOT, env=env), out))
        try:
            _wait(processes)
        finally:
            for process, _ in processes:
                if process.poll() is None:
                    process.terminate()
                    process.wait()
        failures, lost = [], []
        for process, out in processes:
            if not out.exists():  # it crashed, or was stopped when another failed
                lost.append(f"a worker exited with {process.returncode} and no result")
                continue
            part = json.loads(out.read_text())
            result.examples += part["examples"]
            result.steps += part["steps"]
            for name in ("rules", "outcomes", "figures"):
                getattr(result, name).update(part[name])
            if part["failure"]:
                failures.append(part["failure"])
    result.seconds = time.monotonic() - started
    failures = failures or lost
    result.failure = "\n\n".join(dict.fromkeys(failures)) or None
    RESULTS.append(result)
    if result.failure and _sources_digest() != sources:
        # Contracts deployed at the start, a model imported at the start: an edit to
        # either during the run makes a failure that no replay shows.
        pytest.fail("contracts or model changed during the run: rerun (`ape compile --force` if ape kept old code)")
    if result.failure:
        pytest.fail(f"{machine.__name__} on {market.label}:\n{result.failure}", pytrace=False)
    return result


def _sources_digest() -> bytes:
    """What a machine's verdict depends on: the contracts and the model."""
    paths = sorted((ROOT / "contracts").rglob("*.vy*")) + [ROOT / "inverse" / "model.py"]
    return hashlib.sha256(b"".join(path.read_bytes() for path in paths)).digest()


def _wait(processes: list):
    """Until every worker is done, or one has failed (the others are stopped then:
    one shrunk failure is what the test reports)."""
    while True:
        running = [p for p, _ in processes if p.poll() is None]
        failed = any(p.returncode not in (None, 0) for p, _ in processes)
        if not running or failed:
            return
        time.sleep(0.2)


# ---------------------------------------------------------------- the summary


def _table(results: list[Result]) -> list[list[str]]:
    """Rows of counts, one column per market: every rule (0 if it never ran), then every
    outcome and the machine's own figures seen in any market."""
    rows = [["", *(r.market for r in results)]]
    for prefix, name in (("rule", "rules"), ("", "outcomes"), ("", "figures")):
        keys = sorted(set().union(*(getattr(r, name) for r in results)))
        for key in keys:
            label = f"{prefix} {key}".strip()
            rows.append([label, *(str(getattr(r, name).get(key, 0)) for r in results)])
    return rows


def _by_machine(results: list[Result]) -> dict[str, list[Result]]:
    machines = {}
    for r in results:
        machines.setdefault(r.machine, []).append(r)
    return machines


def totals(results: list[Result]) -> dict:
    steps, seconds = sum(r.steps for r in results), sum(r.seconds for r in results)
    return {
        "examples": sum(r.examples for r in results),
        "steps": steps,
        "seconds": seconds,
        "rate": steps / seconds if seconds else 0.0,
        "rules": sum(len(r.rules) for r in _first_of_each(results)),
        "rules hit": sum(sum(1 for n in r.rules.values() if n) for r in _merged(results)),
        "outcomes hit": sum(len(r.outcomes) for r in _merged(results)),
    }


def _first_of_each(results):
    return [rs[0] for rs in _by_machine(results).values()]


def _merged(results) -> list[Result]:
    """One result per machine, its markets' counts added."""
    merged = []
    for machine, rs in _by_machine(results).items():
        m = Result(machine, "all")
        for r in rs:
            m.rules.update(r.rules)
            m.outcomes.update(r.outcomes)
        merged.append(m)
    return merged


def reasons_never_met(results: list[Result]) -> list[str]:
    """The revert reasons written in contracts/ (not the mocks') that no operation of the
    run met: an operation's outcome is "label: reason". Some only a constructor, a permit
    or a faulty token can reach; the list shows what the machines leave to unit tests."""
    written = set()
    for path in (ROOT / "contracts").glob("*.vy"):
        written |= set(re.findall(r'"([a-z0-9]+: [^"]+)"', path.read_text()))
    met = {key.split(": ", 1)[1] for r in results for key in r.outcomes if ": " in key}
    return sorted(written - met)


def summary_lines(results: list[Result]) -> list[str]:
    """What the run did, for the terminal: per market and overall, then each machine's
    rules and outcomes per market."""
    lines = [f"profile {os.environ.get('HYPOTHESIS_PROFILE', 'ci')}, {_workers()} workers"]
    lines.append(f"{'machine':<16}{'market':<10}{'examples':>10}{'steps':>10}{'time':>9}{'steps/s':>9}")
    for r in results:
        rate = r.steps / r.seconds if r.seconds else 0.0
        lines.append(f"{r.machine:<16}{r.market:<10}{r.examples:>10}{r.steps:>10}{r.seconds:>8.0f}s{rate:>9.1f}")
    t = totals(results)
    lines.append(f"{'all':<26}{t['examples']:>10}{t['steps']:>10}{t['seconds']:>8.0f}s{t['rate']:>9.1f}")
    lines.append(f"rules that ran: {t['rules hit']} of {t['rules']}; distinct outcomes: {t['outcomes hit']}")
    never = reasons_never_met(results)
    lines.append(f"revert reasons in contracts/ never met ({len(never)}): {'; '.join(never)}")
    for machine, rs in _by_machine(results).items():
        rows = _table(rs)
        width = max(len(row[0]) for row in rows) + 2
        lines.append("")
        lines.append(machine)
        lines.extend(row[0].ljust(width) + "".join(cell.rjust(10) for cell in row[1:]) for row in rows)
    return lines


def write_report(path: Path, results: list[Result]):
    """The run's figures as Markdown (`make fuzz-deep` writes docs/FUZZ.md)."""
    t = totals(results)
    profile = os.environ.get("HYPOTHESIS_PROFILE", "ci")
    budget = os.environ.get("FUZZ_STEPS")
    out = [
        "# Stateful fuzzing: the last long run",
        "",
        f"Written by `make fuzz-deep` (hypothesis profile `{profile}`"
        + (f", FUZZ_STEPS={int(budget):,}" if budget else "")
        + _commit()
        + f", {_workers()} workers, each on an Anvil of its own): every step is a rule of a state machine "
        "(`tests/fuzz/`) followed by the check that every number the contracts expose equals the "
        "reference model's, to the wei, and that the pool is solvent.",
        "",
        f"**{t['steps']:,} steps** in {t['examples']:,} examples, {t['seconds'] / 60:.0f} minutes "
        f"({t['rate']:.0f} steps/s); {t['rules hit']} of {t['rules']} rules ran, "
        f"{t['outcomes hit']} distinct outcomes (an operation's success or its revert reason). "
        + ("Failures: none." if not any(r.failure for r in results) else "**Failures: see below.**"),
        "",
        "| machine | market | examples | steps | time | steps/s |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        rate = r.steps / r.seconds if r.seconds else 0.0
        out.append(
            f"| {r.machine} | {r.market} | {r.examples:,} | {r.steps:,} | {r.seconds / 60:.0f} min | {rate:.0f} |"
        )
    for machine, rs in _by_machine(results).items():
        rows = _table(rs)
        out += ["", f"## {machine}: how often each rule ran and each outcome came", ""]
        out.append("| | " + " | ".join(rows[0][1:]) + " |")
        out.append("| --- |" + " ---: |" * (len(rows[0]) - 1))
        out += ["| " + " | ".join(row) + " |" for row in rows[1:]]
    never = reasons_never_met(results)
    out += ["", f"## Revert reasons in contracts/ that no operation met ({len(never)})", ""]
    out += [f"`{reason}`" + ("," if i < len(never) - 1 else "") for i, reason in enumerate(never)]
    for r in results:
        if r.failure:
            out += ["", f"## Failure: {r.machine} on {r.market}", "", "```", r.failure, "```"]
    path.write_text("\n".join(out) + "\n")


def _commit() -> str:
    """ ", at commit <hash>" (with "+ changes" if the tree differs), or "" outside git."""
    run = lambda *args: subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)  # noqa: E731
    head = run("rev-parse", "--short", "HEAD")
    if head.returncode:
        return ""
    changed = run("status", "--porcelain", "--untracked-files=no", "contracts", "inverse", "tests").stdout.strip()
    return f", at commit {head.stdout.strip()}" + (" + changes" if changed else "")


def _workers() -> int:
    return int(os.environ.get("FUZZ_WORKERS", os.cpu_count() or 1))


# ---------------------------------------------------------------- a worker's side (no ape)


def counting(machine: type, counts: Counter) -> type:
    """A subclass of `machine` whose every rule (and initialize rule) counts the times
    hypothesis runs it in `counts`, not the times another rule calls it; each listed
    from the start, so a rule that never runs shows 0."""
    members = {}
    for name, function in inspect.getmembers(machine):
        for marker, decorator in (
            ("hypothesis_stateful_rule", rule),
            ("hypothesis_stateful_initialize_rule", initialize),
        ):
            spec = getattr(function, marker, None)  # what @rule / @initialize attach
            if spec is None:
                continue
            counts[name] += 0

            def run(self, *args, _name=name, _function=function, **kwargs):
                outermost = not getattr(self, "_in_rule", False)
                counts[_name] += outermost
                self._in_rule = True
                try:
                    return _function(self, *args, **kwargs)
                finally:
                    self._in_rule = not outermost

            run.__name__ = name
            members[name] = decorator(**spec.arguments)(run)
    return type(machine.__name__, (machine,), members)


def work(job: dict, examples: int, index: int) -> dict:
    """Runs `examples` examples of the job's machine on an Anvil of this worker."""
    from tests import profiles  # noqa: F401 (the hypothesis profile, as the tests load it)
    from tests.fuzz.rpc import Anvil

    module, name = job["machine"].split(":")
    base = getattr(importlib.import_module(module), name)
    market = Market(**job["market"])
    counts = Counter()
    figures = base.figures
    started = last = time.monotonic()

    class Worker(counting(base, counts)):
        def teardown(self):
            super().teardown()
            nonlocal last
            if time.monotonic() - last >= PROGRESS_EVERY:  # for long runs
                last = time.monotonic()
                print(
                    f"{type(self).__name__} worker {index}: {figures['steps']} steps, {figures['examples']} "
                    f"examples, {figures['steps'] / (last - started):.0f} steps/s",
                    file=sys.stderr,
                    flush=True,
                )

    Worker.__name__ = f"{base.__name__}_{market.label.replace('-', '_')}"
    anvil = Anvil(market.state, market.timestamp)
    Worker.market, Worker.anvil = market, anvil
    figures.clear()
    failure = None
    step_count = settings().stateful_step_count
    try:
        # Examples cut short (hypothesis stops one when its data runs long) are made
        # up for by more examples, so the run does its share of steps.
        while failure is None and figures["steps"] < examples * step_count:
            before, lines = figures["steps"], []
            try:
                with with_reporter(lines.append):
                    more = math.ceil((examples * step_count - before) / step_count)
                    run_state_machine_as_test(Worker, settings=settings(max_examples=more))
            except Exception as error:  # reported to the test, which fails with it
                failure = "\n".join(lines + ["".join(traceback.format_exception(error))])
            if figures["steps"] == before:
                break
    finally:
        anvil.stop()
    return {
        "examples": figures.pop("examples", 0),
        "steps": figures.pop("steps", 0),
        "rules": counts,
        "outcomes": base.outcomes,
        "figures": figures,
        "failure": failure,
    }


if __name__ == "__main__":
    # Stopped by the test (another worker failed): exit at once, not through an
    # exception hypothesis would take for a failure. Its Anvil follows (`rpc.Anvil`).
    signal.signal(signal.SIGTERM, lambda *_: os._exit(1))
    job_path, examples, index, out = sys.argv[1:]
    report = work(json.loads(Path(job_path).read_text()), int(examples), int(index))
    Path(out).write_text(json.dumps(report))
    sys.exit(1 if report["failure"] else 0)
