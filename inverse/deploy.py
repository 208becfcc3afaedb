"""Deploying markets with ape: one place, used by the deploy script, the demo and the tests."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from ape import chain, project
from ape.api import AccountAPI

from .constants import DEFAULT_SEQUENCER_GRACE, WAD, default_parameters

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


def leverage_wad(leverage: float | int | str | Decimal) -> int:
    """2 -> 2e18, "0.5" -> 5e17 (exact: through Decimal, never float)."""
    return int(Decimal(str(leverage)) * WAD)


def leverage_label(leverage: int) -> str:
    """2e18 -> "2", 5e17 -> "0.5"."""
    return format(Decimal(leverage) / WAD, "f").rstrip("0").rstrip(".")


def token_names(asset: str, leverage: int) -> dict:
    """ERC-20 names within snekmate's limits (25-char names, 5-char symbols)."""
    label = leverage_label(leverage)
    digits = label.replace(".", "")
    return {
        "name": f"{asset} -{label}x Inverse"[:25],
        "symbol": f"i{asset}{digits}"[:5],
        "lp_name": f"{asset} -{label}x Inverse LP"[:25],
        "lp_symbol": f"l{asset}{digits}"[:5],
    }


@dataclass
class System:
    """What a deployment put on chain."""

    feed: object
    oracle: object
    collateral: object
    lp_blueprint: str
    pools: dict[int, object] = field(default_factory=dict)  # leverage (WAD) -> pool
    sequencer_feed: object | None = None


def deploy_lp_blueprint(deployer: AccountAPI, **tx) -> str:
    """An EIP-5202 blueprint of the LP token; every pool creates its LP token from it."""
    receipt = deployer.declare(project.LpToken, **tx)
    return receipt.contract_address


def deploy_oracle(
    deployer: AccountAPI,
    feed: str,
    max_age: int,
    sequencer_feed: str = ZERO_ADDRESS,
    grace_period: int = 0,
    **tx,
):
    return deployer.deploy(project.ChainlinkOracle, feed, max_age, sequencer_feed, grace_period, **tx)


def deploy_pool(
    deployer: AccountAPI,
    *,
    collateral,
    oracle,
    leverage: int,
    lp_blueprint: str,
    asset: str = "ETH",
    guardian: str | None = None,
    params: dict | None = None,
    **tx,
):
    """A market: pool (the inverse token) plus its LP token. `leverage` is a WAD;
    `params` default to SPEC 6 for that leverage and the collateral's decimals."""
    if params is None:
        params = default_parameters(leverage, collateral.decimals())
    names = token_names(asset, leverage)
    return deployer.deploy(
        project.InversePool,
        names["name"],
        names["symbol"],
        collateral,
        oracle,
        leverage,
        lp_blueprint,
        names["lp_name"],
        names["lp_symbol"],
        guardian or deployer.address,
        params,
        **tx,
    )


def deploy_mock_system(
    deployer: AccountAPI,
    *,
    leverages=(1,),
    collateral_decimals: int = 6,
    initial_price: int = 2_000 * 10**8,
    feed_decimals: int = 8,
    heartbeat: int = 3_600,
    with_sequencer: bool = False,
    guardian: str | None = None,
    params: dict | None = None,
) -> System:
    """Everything on a local chain: mock feed and collateral, oracle, one pool per
    leverage (given as numbers: 1, 3, "0.5")."""
    feed = deployer.deploy(project.MockAggregator, feed_decimals, "ETH / USD", initial_price)
    sequencer = None
    if with_sequencer:
        sequencer = deployer.deploy(project.MockAggregator, 0, "L2 Sequencer Uptime", 0)
        # Up since well before the grace period, so the first price is valid.
        now = chain.pending_timestamp
        sequencer.set_round(1, 0, now - 2 * DEFAULT_SEQUENCER_GRACE, now, sender=deployer)
    collateral = deployer.deploy(project.MockCollateral, "Mock USD Coin", "USDC", collateral_decimals)
    oracle = deploy_oracle(
        deployer,
        feed.address,
        heartbeat + heartbeat // 10,
        sequencer.address if sequencer else ZERO_ADDRESS,
        DEFAULT_SEQUENCER_GRACE if sequencer else 0,
    )
    blueprint = deploy_lp_blueprint(deployer)
    system = System(feed=feed, oracle=oracle, collateral=collateral, lp_blueprint=blueprint, sequencer_feed=sequencer)
    for lev in leverages:
        lev_wad = leverage_wad(lev)
        system.pools[lev_wad] = deploy_pool(
            deployer,
            collateral=collateral,
            oracle=oracle,
            leverage=lev_wad,
            lp_blueprint=blueprint,
            guardian=guardian,
            params=params,
        )
    return system
