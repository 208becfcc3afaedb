"""The deploy code from a config file, its checks, and the demo end to end (short)."""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from inverse.deploy import ConfigError, deploy_plan, load_config, plan_deployment, write_manifest

ROOT = Path(__file__).resolve().parents[2]


def test_deploy__local_config__deploys_both_markets_and_writes_manifest(accounts, tmp_path, project):
    owner = accounts[11]  # its own deployer: see tests/fuzz/test_pool_machine.py
    plan = plan_deployment(load_config(ROOT / "deployments/config.yaml", "local"), is_local=True)
    manifest = deploy_plan(owner, plan, "ethereum:local")

    assert [m["leverage"] for m in manifest["markets"]] == ["1", "3"]
    for market in manifest["markets"]:
        pool = project.InstantPool.at(market["pool"])
        assert pool.lp_token() == market["lp_token"]
        assert pool.collateral() == manifest["contracts"]["collateral"]
        assert pool.oracle() == manifest["contracts"]["oracle"]
        assert {name: getattr(pool, name)() for name in market["parameters"]} == market["parameters"]
    assert (
        project.InstantPool.at(manifest["markets"][1]["pool"]).threshold()
        < project.InstantPool.at(manifest["markets"][0]["pool"]).threshold()
    )
    assert len(manifest["transactions"]) == 6  # feed, collateral, oracle, blueprint, two pools

    path = tmp_path / "local.json"
    write_manifest(manifest, path)
    assert json.loads(path.read_text())["markets"][0]["pool"] == manifest["markets"][0]["pool"]
    with pytest.raises(ConfigError, match="--force"):
        write_manifest(manifest, path)
    write_manifest(manifest, path, force=True)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"feed": None}, "missing 'feed'"),
        ({"feed": "0x1234"}, "not an address"),
        ({"feed": "0x" + "11" * 20}, "no contract at feed"),
        ({"markets": [{"leverage": 6}]}, "leverage 6 outside"),
        ({"markets": [{"leverage": 1, "parameters": {"mint_fee": 10**17}}]}, "mint fee out of bounds"),
        ({"markets": [{"leverage": 1, "parameters": {"fee": 1}}]}, "unknown parameter"),
        ({"collateral_decimals": 24}, "at most 18"),
        ({"markets": []}, "no markets"),
    ],
)
def test_deploy__bad_config__is_refused_before_sending(change, message, chain):
    config = load_config(ROOT / "deployments/config.yaml", "local")
    config = {k: v for k, v in (config | change).items() if v is not None}
    block = chain.blocks.head.number
    with pytest.raises(ConfigError, match=message):
        plan_deployment(config, is_local=True)
    assert chain.blocks.head.number == block  # nothing was sent


def test_deploy__mock_on_a_live_network__is_refused():
    config = load_config(ROOT / "deployments/config.yaml", "local")
    with pytest.raises(ConfigError, match="local networks only"):
        plan_deployment(config, is_local=False)


def test_deploy__sepolia_config__names_chainlink_feed_and_usdc():
    config = yaml.safe_load((ROOT / "deployments/config.yaml").read_text())["sepolia"]
    assert config["feed"] == "0x694AA1769357215DE4FAC081bf1f309aDC325306"
    assert config["heartbeat"] == 3_600
    assert [m["leverage"] for m in config["markets"]] == [1, 3]


def test_demo__short_run__prints_table_writes_plot_and_is_solvent(tmp_path):
    plot = tmp_path / "demo.png"
    result = subprocess.run(
        [str(Path(sys.executable).parent / "ape"), "run", "demo", "--days", "4", "--plot", str(plot)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "-1x NAV" in result.stdout and "-3x NAV" in result.stdout
    assert "on the threshold" in result.stdout  # the crash day's intraday rebalance
    assert "All solvent." in result.stdout
    assert plot.stat().st_size > 10_000
