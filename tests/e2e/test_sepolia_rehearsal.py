"""The README's walkthrough from zero to a Sepolia market, a keeper and a first mint,
run with its own commands on a rehearsal chain: an Anvil with Sepolia's chain id and
a block every second, reached as ape's `sepolia` network (live-network settings: two
confirmations per transaction, EIP-1559 fees) with the `sepolia` section of
deployments/config.yaml. Chainlink's feed and Circle's USDC cannot exist here, so
mocks (with permit, like USDC) are put at their addresses."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from ape import project
from web3 import Web3

from inverse.processes import AnvilNode, KeeperBot

ROOT = Path(__file__).resolve().parents[2]
SEPOLIA = yaml.safe_load((ROOT / "deployments/config.yaml").read_text())["sepolia"]
PRICE = 2_000 * 10**8
USDC = 10**6
DAY = 86_400


def _contract(web3, name: str, address=None):
    contract_type = getattr(project, name).contract_type
    abi = [item.model_dump(mode="json", by_alias=True, exclude_none=True) for item in contract_type.abi]
    if address:
        return web3.eth.contract(address=address, abi=abi)
    return web3.eth.contract(abi=abi, bytecode=contract_type.deployment_bytecode.bytecode)


def _transact(web3, call, sender):
    receipt = web3.eth.wait_for_transaction_receipt(call.transact({"from": sender}), timeout=30)
    assert receipt.status == 1
    return receipt


def _put_at(web3, name: str, address: str, args: tuple, sender: str):
    """Deploy `name` anywhere, then copy its code to `address` (its storage stays empty)."""
    receipt = _transact(web3, _contract(web3, name).constructor(*args), sender)
    web3.provider.make_request("anvil_setCode", [address, web3.eth.get_code(receipt.contractAddress).to_0x_hex()])
    return _contract(web3, name, address)


@pytest.fixture(scope="module")
def rehearsal(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("sepolia")
    node = AnvilNode(workdir, network="sepolia", block_time=1)
    node.start()
    web3 = Web3(Web3.HTTPProvider(node.uri))
    funder = web3.eth.accounts[9]
    feed = _put_at(web3, "MockAggregator", SEPOLIA["feed"], (8, "ETH / USD", PRICE), funder)
    usdc = _put_at(web3, "MockCollateral", SEPOLIA["collateral"], ("USDC", "USDC", 6), funder)
    _transact(web3, feed.functions.set_answer(PRICE), funder)
    # ape keeps contract types of live networks on disk: keep the rehearsal's to itself.
    env = os.environ | {"APE_DATA_FOLDER": str(workdir / "ape-data")}

    def ape_run(*args, account="TEST::4"):
        command = [str(Path(sys.executable).parent / "ape"), "run", *args]
        command += ["--network", node.network_choice, "--account", account]
        result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return result.stdout

    try:
        yield {
            "node": node,
            "web3": web3,
            "feed": feed,
            "usdc": usdc,
            "ape_run": ape_run,
            "workdir": workdir,
            "env": env,
        }
    finally:
        node.stop()


def test_sepolia_walkthrough__deploy_keeper_and_first_mint(rehearsal):
    node, web3, feed, usdc, ape_run = (rehearsal[k] for k in ("node", "web3", "feed", "usdc", "ape_run"))
    manifest_file = rehearsal["workdir"] / "sepolia.json"
    deployer, keeper, user = web3.eth.accounts[0], web3.eth.accounts[2], web3.eth.accounts[4]

    # 2. Deploy both markets from the `sepolia` section.
    out = ape_run("deploy", "--manifest", str(manifest_file), account="TEST::0")
    manifest = json.loads(manifest_file.read_text())
    assert manifest["network"] == "ethereum:sepolia" and manifest["chain_id"] == 11_155_111
    assert manifest["contracts"]["feed"] == SEPOLIA["feed"]
    assert manifest["contracts"]["collateral"] == SEPOLIA["collateral"]
    assert [market["leverage"] for market in manifest["markets"]] == ["1", "3"]
    assert "manifest:" in out
    pools = {m["leverage"]: _contract(web3, "InstantPool", m["pool"]) for m in manifest["markets"]}
    assert pools["3"].functions.leverage().call() == 3 * 10**18
    nonce = web3.eth.get_transaction_count(deployer)
    command = [str(Path(sys.executable).parent / "ape"), "run", "deploy", "--manifest", str(manifest_file)]
    command += ["--network", node.network_choice, "--account", "TEST::0"]
    again = subprocess.run(command, cwd=ROOT, env=rehearsal["env"], capture_output=True, text=True, timeout=600)
    assert again.returncode != 0 and "pass --force" in again.stdout + again.stderr
    assert web3.eth.get_transaction_count(deployer) == nonce  # refused before sending

    # 3. A keeper on the manifest.
    bot = KeeperBot(rehearsal["workdir"], node, None, env=rehearsal["env"] | {"INVERSE_MANIFEST": str(manifest_file)})
    bot.start()
    try:
        # 4. From a wallet: test USDC, then the README's commands.
        _transact(web3, usdc.functions.mint(user, 10_000 * USDC), user)
        out = ape_run("inverse", "lp-deposit", "1000", "--market", "3", "--manifest", str(manifest_file), "--yes")
        assert "by a permit signature" in out
        out = ape_run("inverse", "mint", "100", "--market", "3", "--manifest", str(manifest_file), "--yes")
        assert "by a permit signature" in out
        assert pools["3"].functions.balanceOf(user).call() == 99_900 * 10**15  # 100 USDC less 0.1% at NAV 1
        assert usdc.functions.allowance(user, pools["3"].address).call() == 0  # no approval left behind
        out = ape_run("inverse", "status", "--market", "3", "--manifest", str(manifest_file))
        assert "your tokens      99.9000" in out

        # A day later, with the feed's heartbeat answer, the keeper rebalances both markets.
        before = {label: pool.functions.last_rebalance().call() for label, pool in pools.items()}
        web3.provider.make_request("evm_increaseTime", [DAY])
        _transact(web3, feed.functions.set_answer(PRICE * 99 // 100), web3.eth.accounts[9])
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if all(pool.functions.last_rebalance().call() > before[label] for label, pool in pools.items()):
                break
            time.sleep(1)
        assert all(pool.functions.last_rebalance().call() > before[label] for label, pool in pools.items()), (
            bot.output()[-4000:]
        )
        # The bounty comes out of LP value: 1 USDC from -3x; the -1x market has no LPs yet.
        assert usdc.functions.balanceOf(keeper).call() == USDC
    finally:
        bot.stop()
        bot.forget()

    out = ape_run("inverse", "redeem", "all", "--market", "3", "--manifest", str(manifest_file), "--yes")
    assert pools["3"].functions.balanceOf(user).call() == 0
    assert usdc.functions.balanceOf(pools["3"].address).call() == pools["3"].functions.total_assets().call()
