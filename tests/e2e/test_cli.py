"""The wallet CLI, run as a user runs it (`ape run inverse ...`), against a real node."""

import subprocess
import sys
from pathlib import Path

import pytest
from ape import networks

from inverse.deploy import deploy_plan, load_config, plan_deployment, write_manifest
from inverse.processes import AnvilNode

ROOT = Path(__file__).resolve().parents[2]
USDC = 10**6


@pytest.fixture(scope="module")
def world(tmp_path_factory, accounts):
    workdir = tmp_path_factory.mktemp("cli")
    node = AnvilNode(workdir)
    node.start()
    try:
        with networks.parse_network_choice(node.network_choice):
            owner, user = accounts[0], accounts[4]
            manifest = deploy_plan(
                owner, plan_deployment(load_config(ROOT / "deployments/config.yaml", "local"), True), "ethereum:local"
            )
            path = workdir / "manifest.json"
            write_manifest(manifest, path)
            from ape import project

            project.MockCollateral.at(manifest["contracts"]["collateral"]).mint(user, 1_000_000 * USDC, sender=user)

            def run(*args, stdin=None):
                command = [
                    str(Path(sys.executable).parent / "ape"),
                    "run",
                    "inverse",
                    *args,
                    "--network",
                    node.network_choice,
                    "--account",
                    "TEST::4",
                    "--manifest",
                    str(path),
                ]
                return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=300)

            yield {"run": run, "manifest": manifest, "user": user, "project": project}
    finally:
        node.stop()


def test_cli__lp_deposit_mint_status_redeem_withdraw(world):
    run, manifest, user, project = world["run"], world["manifest"], world["user"], world["project"]
    pool = project.InstantPool.at(manifest["markets"][0]["pool"])

    collateral = project.MockCollateral.at(manifest["contracts"]["collateral"])

    result = run("lp-deposit", "50000", "--yes")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "LP deposit: pay 50,000.00" in result.stdout

    result = run("mint", "1000", "--yes")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "at least" in result.stdout  # the slippage bound is shown
    assert pool.balanceOf(user) == 999 * 10**18
    # The mock collateral takes EIP-2612 permits: two signatures, no approval transaction.
    assert "by a permit signature" in result.stdout
    assert collateral.nonces(user) == 2
    assert collateral.allowance(user, pool) == 0

    result = run("status")
    assert result.returncode == 0, result.stderr[-2000:]
    assert "NAV              1.000000" in result.stdout
    assert "your tokens      999.0000" in result.stdout
    assert "next rebalance   in" in result.stdout

    result = run("redeem", "all", "--yes")
    assert result.returncode == 0, result.stderr[-2000:]
    assert pool.balanceOf(user) == 0

    result = run("lp-withdraw", "all", "--yes")
    assert result.returncode == 0, result.stderr[-2000:]


def test_cli__asks_before_sending_and_a_no_sends_nothing(world):
    run, manifest, user, project = world["run"], world["manifest"], world["user"], world["project"]
    pool = project.InstantPool.at(manifest["markets"][1]["pool"])
    result = run("lp-deposit", "10", "--market", "3", stdin="n\n")
    assert "Send?" in result.stdout
    assert result.returncode != 0
    assert project.LpToken.at(pool.lp_token()).balanceOf(user) == 0


def test_cli__revert_is_explained_in_plain_words(world):
    run = world["run"]
    result = run("mint", "100", "--market", "3", "--yes")  # no LP liquidity in -3x yet
    assert result.returncode != 0
    assert "pool: exceeds max mint" in result.stderr + result.stdout
    assert "the LPs cannot back that much" in result.stderr + result.stdout

    result = run("rebalance", "--yes")
    assert result.returncode != 0
    assert "not due" in result.stderr + result.stdout


def test_cli__pool_address_without_a_contract__is_refused(world):
    result = world["run"]("status", "--pool", "0x000000000000000000000000000000000000dEaD")
    assert result.returncode != 0
    assert "no contract at 0x000000000000000000000000000000000000dEaD" in result.stderr + result.stdout
