"""The README's walkthrough from zero to Sepolia markets, a keeper and a first mint
(requested, settled at the next price, checked), run with its own commands on a
rehearsal chain: an Anvil with Sepolia's chain id and a block every second, reached
as ape's `sepolia` network (live-network settings: two confirmations per
transaction, EIP-1559 fees) with the `sepolia` section of deployments/config.yaml:
a -1x market on Chainlink's feed and a -3x pull market on Pyth. Chainlink's feed,
Pyth's contract and Circle's USDC cannot exist here, so mocks (with permit, like
USDC; the mock Pyth takes the local price service's updates) are put at their
addresses, and the config's Hermes URL is the local price service's."""

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

from inverse.processes import AnvilNode, KeeperBot, PriceServiceProcess
from inverse.pyth import TEST_SIGNER

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


def _transact(web3, call, sender, **tx):
    receipt = web3.eth.wait_for_transaction_receipt(call.transact({"from": sender} | tx), timeout=30)
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
    _put_at(web3, "MockPyth", SEPOLIA["pyth"], (TEST_SIGNER, 1), funder)  # its fee (storage) reads 0 there
    service = PriceServiceProcess(workdir, node, price="2000")
    service.start()
    # The `sepolia` section as it is, but for where its Hermes is: here, the local price service.
    config_file = workdir / "config.yaml"
    config_file.write_text(yaml.safe_dump({"sepolia": SEPOLIA | {"hermes": service.url}}))
    # Copied code comes with empty storage: open phase 1, as a live proxy has.
    _transact(web3, feed.functions.new_phase(PRICE), funder, gas=300_000)
    # ape keeps contract types of live networks on disk: keep the rehearsal's to itself.
    env = os.environ | {"APE_DATA_FOLDER": str(workdir / "ape-data")}

    def command(args, account):
        return [
            str(Path(sys.executable).parent / "ape"),
            "run",
            *args,
            "--network",
            node.network_choice,
            "--account",
            account,
        ]

    def ape_run(*args, account="TEST::4"):
        result = subprocess.run(command(args, account), cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
        return result.stdout

    def ape_start(*args, account="TEST::4"):
        """A command that waits for its order's settlement, in the background."""
        return subprocess.Popen(
            command(args, account), cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    try:
        yield {
            "node": node,
            "web3": web3,
            "feed": feed,
            "usdc": usdc,
            "ape_run": ape_run,
            "ape_start": ape_start,
            "workdir": workdir,
            "env": env,
            "config": config_file,
            "service": service,
        }
    finally:
        service.stop()
        node.stop()


def test_sepolia_walkthrough__deploy_keeper_and_first_mint(rehearsal):
    node, web3, feed, usdc, ape_run = (rehearsal[k] for k in ("node", "web3", "feed", "usdc", "ape_run"))
    manifest_file = rehearsal["workdir"] / "sepolia.json"
    deployer, keeper, user = web3.eth.accounts[0], web3.eth.accounts[2], web3.eth.accounts[4]

    # 2. Deploy both markets from the `sepolia` section.
    config = ("--config", str(rehearsal["config"]))
    out = ape_run("deploy", "--manifest", str(manifest_file), *config, account="TEST::0")
    manifest = json.loads(manifest_file.read_text())
    assert manifest["network"] == "ethereum:sepolia" and manifest["chain_id"] == 11_155_111
    assert manifest["contracts"]["feed"] == SEPOLIA["feed"]
    assert manifest["contracts"]["collateral"] == SEPOLIA["collateral"]
    assert manifest["contracts"]["pyth"] == SEPOLIA["pyth"]
    assert [(m["leverage"], m["oracle"]) for m in manifest["markets"]] == [("1", "push"), ("3", "pull")]
    assert "manifest:" in out
    pools = {m["leverage"]: _contract(web3, "InversePool", m["pool"]) for m in manifest["markets"]}
    book = _contract(web3, "OrderBook", manifest["markets"][1]["order_book"])
    assert pools["3"].functions.order_book().call() == book.address
    assert pools["3"].functions.leverage().call() == 3 * 10**18
    nonce = web3.eth.get_transaction_count(deployer)
    command = [str(Path(sys.executable).parent / "ape"), "run", "deploy", "--manifest", str(manifest_file), *config]
    command += ["--network", node.network_choice, "--account", "TEST::0"]
    again = subprocess.run(command, cwd=ROOT, env=rehearsal["env"], capture_output=True, text=True, timeout=600)
    assert again.returncode != 0 and "pass --force" in again.stdout + again.stderr
    assert web3.eth.get_transaction_count(deployer) == nonce  # refused before sending

    def finish(cli):
        try:
            out, err = cli.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            cli.kill()
            out, err = cli.communicate()
            pytest.fail(f"the command did not finish:\n{out[-2000:]}{err[-2000:]}")
        assert cli.returncode == 0, out[-2000:] + err[-3000:]
        return out

    market = ("--market", "3", "--manifest", str(manifest_file))
    # 3. A keeper on the manifest.
    bot = KeeperBot(rehearsal["workdir"], node, None, env=rehearsal["env"] | {"INVERSE_MANIFEST": str(manifest_file)})
    bot.start()
    try:
        # 4. From a wallet: test USDC, then the README's commands. The LP deposit is
        # requested without waiting; the mint waits and settles both at the next Pyth
        # price, seconds later (`--settle`: whoever comes first, this wallet or the
        # keeper, settles them).
        _transact(web3, usdc.functions.mint(user, 10_000 * USDC), user)
        out = ape_run("inverse", "lp-deposit", "1000", *market, "--yes", "--no-wait")
        assert "by a permit signature" in out and "Order 1 requested" in out
        cli = rehearsal["ape_start"]("inverse", "mint", "100", *market, "--yes", "--settle")
        out = finish(cli)
        assert "by a permit signature" in out and "Order 2: filled, at the Pyth price published" in out
        tokens = pools["3"].functions.balanceOf(user).call()
        # 100 USDC less 0.1% at NAV 1, less a few minutes of management fee.
        assert 99_900 * 10**15 <= tokens < 99_901 * 10**15
        assert usdc.functions.allowance(user, book.address).call() == 0  # no approval left behind
        out = ape_run("inverse", "orders", *market)
        assert "#1 lp-deposit 1,000.00 USDC: filled" in out and "#2 mint 100.00 USDC: filled" in out
        out = ape_run("inverse", "status", *market)
        assert "your tokens      99.90" in out and "orders           0 pending" in out

        # A day later the keeper rebalances the -3x pull market at the current Pyth price.
        before = {label: pool.functions.last_rebalance().call() for label, pool in pools.items()}
        web3.provider.make_request("evm_increaseTime", [DAY])
        _transact(web3, feed.functions.set_answer(PRICE * 99 // 100), web3.eth.accounts[9], gas=200_000)
        # The bounty comes out of LP value: 1 USDC from -3x; the -1x market has no LPs
        # yet, so its rebalance would pay nothing and the bot (no loss budget) leaves it.
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if pools["3"].functions.last_rebalance().call() > before["3"]:
                break
            time.sleep(1)
        assert pools["3"].functions.last_rebalance().call() > before["3"], bot.output()[-4000:]
        assert usdc.functions.balanceOf(keeper).call() == USDC
    finally:
        bot.stop()
        bot.forget()

    cli = rehearsal["ape_start"]("inverse", "redeem", "all", *market, "--yes", "--settle")
    out = finish(cli)
    assert "Order 3: filled" in out
    assert pools["3"].functions.balanceOf(user).call() == 0
    pool = pools["3"].functions
    held = pool.total_assets().call() + book.functions.escrowed().call() + pool.total_claimable().call()
    assert usdc.functions.balanceOf(pools["3"].address).call() == held
