"""The wallet CLI on pull markets (SPEC 3b), run as a user runs it (`ape run inverse
...`): a real node mining a block a second, the local price service as its Hermes
(INVERSE_HERMES_URL), markets deployed by the real deploy code from the `local`
config with `oracle: pull`. Orders settle seconds after their request, at the first
Pyth price at or after T, settled by the user's own CLI (`--settle`)."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from ape import chain, networks

from inverse.deploy import deploy_plan, load_config, plan_deployment, write_manifest
from inverse.processes import AnvilNode, PriceServiceProcess

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.xdist_group("cli-pull")
USDC = 10**6
WAD = 10**18


@pytest.fixture(scope="module")
def world(tmp_path_factory, accounts):
    workdir = tmp_path_factory.mktemp("cli-pull")
    node = AnvilNode(workdir, block_time=1)
    node.start()
    service = PriceServiceProcess(workdir, node, price="2000")
    try:
        service.start()
        with networks.parse_network_choice(node.network_choice):
            from ape import project

            owner, user = accounts[0], accounts[4]
            config = load_config(ROOT / "deployments/config.yaml", "local") | {
                "markets": [{"leverage": 1, "oracle": "pull"}]
            }
            manifest = deploy_plan(owner, plan_deployment(config, True), "ethereum:local")
            path = workdir / "manifest.json"
            write_manifest(manifest, path)
            project.MockCollateral.at(manifest["contracts"]["collateral"]).mint(user, 1_000_000 * USDC, sender=user)
            pool = project.InversePool.at(manifest["markets"][0]["pool"])
            env = os.environ | {"INVERSE_HERMES_URL": service.url}

            def run(*args):
                command = [str(Path(sys.executable).parent / "ape"), "run", "inverse", *args]
                command += ["--network", node.network_choice, "--account", "TEST::4", "--manifest", str(path)]
                result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
                assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
                assert "Traceback" not in result.stdout + result.stderr
                return result.stdout

            yield {
                "run": run,
                "pool": pool,
                "book": project.OrderBook.at(pool.order_book()),
                "user": user,
                "service": service,
                "project": project,
            }
    finally:
        service.stop()
        node.stop()


def test_cli_pull__orders_settle_in_seconds_at_the_first_price_after_t(world):
    run, pool, book, user = (world[k] for k in ("run", "pool", "book", "user"))
    out = run("lp-deposit", "50000", "--yes", "--settle")
    assert "settles at the NEXT Pyth price" in out and "5 s to 10 s after it" in out
    assert "Order 1: filled, at the Pyth price published" in out and ": 2,000.00, NAV" in out
    out = run("mint", "100", "--yes", "--settle")
    assert "waiting for its price time" in out
    assert "Order 2: filled, at the Pyth price published" in out
    assert pool.balanceOf(user) > 0 and book.pending_orders() == 0
    [log] = list(pool.OrderSettled.range(0, chain.blocks.head.number + 1, search_topics={"order_id": 2}))
    [order] = list(book.OrderRequested.range(0, chain.blocks.head.number + 1, search_topics={"order_id": 2}))
    # Priced by the price published at T itself (one a second): the first at or after it.
    assert log.round_id == order.not_before and order.not_before - order.requested_at <= 10


def test_cli_pull__rebalance_proves_the_latest_price_first(world):
    run, pool = world["run"], world["pool"]
    # ETH +16% from the next slot on: every slot from then has it as its first price.
    head = chain.blocks.head.timestamp
    slot = head - head % 5 + 5
    requests.post(f"{world['service'].url}/price", json={"price": 2_320, "from": slot}, timeout=10)
    while chain.blocks.head.timestamp < slot:  # the node mines a block a second
        time.sleep(0.2)
    out = run("rebalance", "--yes")
    assert "Rebalance at the current Pyth price" in out and "at price 2,320.00" in out
    assert pool.reference_price() == 2_320 * WAD


def test_cli_pull__a_preview_brings_a_current_price_when_the_one_on_chain_is_old(world):
    run = world["run"]
    chain.provider.make_request("evm_increaseTime", [300])  # past the oracle's 60 s max age
    chain.provider.make_request("evm_mine", [])
    out = run("redeem", "all", "--yes", "--no-wait")
    assert "too old to preview against: brought Pyth's latest" in out
    assert "Order 3 requested" in out
