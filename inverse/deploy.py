"""Deploying markets with ape: one place, used by the deploy script, the demo and the tests."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

import yaml
from ape import chain, project
from ape.api import AccountAPI
from ape.contracts import ContractInstance
from ethpm_types import ContractType

from .constants import (
    DEFAULT_MAX_CONFIDENCE,
    DEFAULT_PARAMETER_DELAY,
    DEFAULT_PULL_MAX_AGE,
    DEFAULT_SEQUENCER_GRACE,
    MAX_COLLATERAL_DECIMALS,
    MAX_LEVERAGE,
    MAX_MAX_WAIT,
    MAX_PARAMETER_DELAY,
    MIN_LEVERAGE,
    MIN_PARAMETER_DELAY,
    ORDER_PARAMETER_NAMES,
    WAD,
    default_order_parameters,
)
from .model import Revert, check_parameters
from .pyth import TEST_SIGNER

# Pyth's ETH/USD price id: the same on every chain.
ETH_USD_ID = bytes.fromhex("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace")

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


@dataclass(frozen=True)
class Blueprints:
    """EIP-5202 blueprints every pool creates its parts from, as it is deployed."""

    lp_token: str
    order_book: str
    lens: str


@dataclass
class System:
    """What a deployment put on chain."""

    feed: object | None  # the Chainlink feed (None for a pull system)
    oracle: object
    collateral: object
    blueprints: Blueprints
    pools: dict[int, object] = field(default_factory=dict)  # leverage (WAD) -> pool
    sequencer_feed: object | None = None
    pyth: object | None = None  # a pull system's Pyth contract
    rebalancer: object | None = None  # a pull system's PullRebalancer


def deploy_blueprints(deployer: AccountAPI, **tx) -> tuple[Blueprints, list]:
    """The blueprints of a pool's LP token, order book and lens (`Blueprints`), and
    their receipts."""
    # ape's `declare` leaves the sender out of the transaction; a live network's gas
    # estimate then runs from the zero address and fails for lack of funds.
    receipts = [
        deployer.declare(contract, sender=deployer, **tx)
        for contract in (project.LpToken, project.OrderBook, project.PoolLens)
    ]
    return Blueprints(*(receipt.contract_address for receipt in receipts)), receipts


def order_book_of(pool):
    """The order book a pool created."""
    return project.OrderBook.at(pool.order_book())


def lens_of(pool):
    """The previews (`preview_mint`, `max_mint`, ...) a pool created."""
    return project.PoolLens.at(pool.lens())


def deploy_pool(
    deployer: AccountAPI,
    *,
    collateral,
    oracle,
    leverage: int,
    blueprints: Blueprints,
    asset: str = "ETH",
    guardian: str | None = None,
    params: dict | None = None,
    parameter_delay: int = DEFAULT_PARAMETER_DELAY,
    **tx,
):
    """A market: the pool (the inverse token) with its LP token, order book and lens.
    `leverage` is a WAD; `params` default to SPEC 7 for that leverage, the
    collateral's decimals and the oracle's max_age; a change to them waits
    `parameter_delay` seconds."""
    if params is None:
        pull = int(oracle.feed(), 16) == 0
        params = default_order_parameters(leverage, collateral.decimals(), oracle.max_age(), pull)
    names = token_names(asset, leverage)
    return deployer.deploy(
        project.InversePool,
        names["name"],
        names["symbol"],
        collateral,
        oracle,
        leverage,
        blueprints.lp_token,
        blueprints.order_book,
        blueprints.lens,
        names["lp_name"],
        names["lp_symbol"],
        guardian or deployer.address,
        tuple(params[name] for name in ORDER_PARAMETER_NAMES),
        parameter_delay,
        **tx,
    )


def deploy_upkeep(deployer: AccountAPI, pool, receiver: str, **tx):
    """A push market's Chainlink Automation contract: register it twice, as a
    log-trigger upkeep on the book's `OrderRequested` (it records each order)
    and as a custom-logic upkeep (it settles the due orders and rebalances). The
    settle fees and the bounty of the work it performs go to `receiver`."""
    return deployer.deploy(project.Upkeep, pool, receiver, **tx)


def deploy_oracle(
    deployer: AccountAPI,
    feed: str,
    max_age: int,
    sequencer_feed: str = ZERO_ADDRESS,
    grace_period: int = 0,
    **tx,
):
    return deployer.deploy(project.ChainlinkOracle, feed, max_age, sequencer_feed, grace_period, **tx)


def deploy_pull_oracle(
    deployer: AccountAPI,
    pyth: str,
    price_id: bytes | str,
    max_age: int = DEFAULT_PULL_MAX_AGE,
    max_confidence: int = DEFAULT_MAX_CONFIDENCE,
    **tx,
):
    """A pull oracle (`PythOracle.vy`) on Pyth's contract `pyth` for one price id."""
    if isinstance(price_id, str):
        price_id = bytes.fromhex(price_id.removeprefix("0x"))
    return deployer.deploy(project.PythOracle, pyth, price_id, max_age, max_confidence, **tx)


def prove_recent_price(deployer: AccountAPI, oracle, source, **tx):
    """Proves the latest slot's price (what a pull market's first reference and its
    rebalances use): the first update at or after it from `source` (`inverse.pull`).
    Returns the receipt."""
    from .pull import recent_slot

    slot = recent_slot(chain.blocks.head.timestamp)
    price = source(slot)
    if price is None:
        raise RuntimeError(f"no price published at or after {slot} yet: is the price service running?")
    pyth = partial_contract(oracle.pyth(), PYTH_FEE_ABI)
    fee = pyth.getUpdateFee([price.data])
    return oracle.prove([(slot, price.data)], deployer.address, value=fee, sender=deployer, **tx)


def ensure_fresh_price(deployer: AccountAPI, oracle, source):
    """Proves the latest slot's price on a pull oracle unless it is proven already:
    a pool's deployment reads its first reference price from it."""
    from .pull import recent_slot

    if not oracle.proven(recent_slot(chain.blocks.head.timestamp))[0]:
        prove_recent_price(deployer, oracle, source)


def deploy_mock_pyth(deployer: AccountAPI, initial_price: int = 2_000 * 10**8, price_id: bytes = ETH_USD_ID):
    """A mock Pyth (the test signer's updates, 1 wei a proof) and a pull oracle on
    it, its first price (USD, 8 decimals) signed here: (pyth, oracle)."""
    from .pull import signed_source

    pyth = deployer.deploy(project.MockPyth, TEST_SIGNER, 1)
    oracle = deploy_pull_oracle(deployer, pyth.address, price_id)
    prove_recent_price(deployer, oracle, signed_source(lambda t: initial_price, price_id))
    return pyth, oracle


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
    parameter_delay: int = DEFAULT_PARAMETER_DELAY,
    pull: bool = False,
) -> System:
    """Everything on a local chain: mock feed and collateral, oracle, one pool per
    leverage (given as numbers: 1, 3, "0.5"). `pull`: a mock Pyth and a pull
    oracle instead of the feed, its first price signed here at `initial_price`."""
    if pull:
        collateral = deployer.deploy(project.MockCollateral, "Mock USD Coin", "USDC", collateral_decimals)
        pyth, oracle = deploy_mock_pyth(deployer, initial_price)
        blueprints, _ = deploy_blueprints(deployer)
        rebalancer = deployer.deploy(project.PullRebalancer)
        system = System(
            feed=None, oracle=oracle, collateral=collateral, blueprints=blueprints, pyth=pyth, rebalancer=rebalancer
        )
        for lev in leverages:
            system.pools[leverage_wad(lev)] = deploy_pool(
                deployer,
                collateral=collateral,
                oracle=oracle,
                leverage=leverage_wad(lev),
                blueprints=blueprints,
                guardian=guardian,
                params=params,
                parameter_delay=parameter_delay,
            )
        return system
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
    blueprints, _ = deploy_blueprints(deployer)
    system = System(feed=feed, oracle=oracle, collateral=collateral, blueprints=blueprints, sequencer_feed=sequencer)
    for lev in leverages:
        lev_wad = leverage_wad(lev)
        system.pools[lev_wad] = deploy_pool(
            deployer,
            collateral=collateral,
            oracle=oracle,
            leverage=lev_wad,
            blueprints=blueprints,
            guardian=guardian,
            params=params,
            parameter_delay=parameter_delay,
        )
    return system


# ---------------------------------------------------------------- deploying from a config file

CONFIG_PATH = "deployments/config.yaml"
_ERC20_ABI = [
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    },
]
_FEED_ABI = _ERC20_ABI + [
    {
        "type": "function",
        "name": "phaseId",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint16"}],
    },
    {
        "type": "function",
        "name": "latestRoundData",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": n, "type": t}
            for n, t in (
                ("roundId", "uint80"),
                ("answer", "int256"),
                ("startedAt", "uint256"),
                ("updatedAt", "uint256"),
                ("answeredInRound", "uint80"),
            )
        ],
    },
]


PYTH_FEE_ABI = [
    {
        "type": "function",
        "name": "getUpdateFee",
        "stateMutability": "view",
        "inputs": [{"name": "updateData", "type": "bytes[]"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
]


def partial_contract(address: str, abi: list[dict]) -> ContractInstance:
    """A contract object for the few functions in `abi`. Unlike `Contract(address,
    abi=...)` it leaves ape's contract-type cache alone, which would otherwise
    decode that address's events and errors with this partial ABI from then on."""
    return ContractInstance(chain.provider.network.ecosystem.decode_address(address), ContractType(abi=abi))


class ConfigError(ValueError):
    """The deployment config cannot work; nothing has been sent."""


def load_config(path: str | Path, network: str) -> dict:
    config = yaml.safe_load(Path(path).read_text()) or {}
    if network not in config:
        raise ConfigError(f"{path} has no section for network '{network}' (it has: {', '.join(config)})")
    return config[network]


def plan_deployment(config: dict, is_local: bool) -> dict:
    """Check everything that can be checked before sending a transaction; return
    the plan with every parameter filled in. A market settles at Chainlink rounds
    (`oracle: push`, needs `feed`) or at Pyth prices (`oracle: pull`, needs `pyth`;
    the default where `pyth` is given)."""
    for key in ("collateral", "markets"):
        if key not in config:
            raise ConfigError(f"config: missing '{key}'")
    if "feed" not in config and "pyth" not in config:
        raise ConfigError("config: give a Chainlink 'feed' (push markets) or a Pyth 'pyth' (pull markets), or both")
    plan = {
        "asset": str(config.get("asset", "ETH")),
        "heartbeat": int(config.get("heartbeat", 3_600)),
        "sequencer_feed": config.get("sequencer_feed") or ZERO_ADDRESS,
        "grace_period": int(config.get("grace_period", DEFAULT_SEQUENCER_GRACE)),
        "parameter_delay": int(config.get("parameter_delay", DEFAULT_PARAMETER_DELAY)),
        "upkeep_receiver": config.get("upkeep_receiver"),  # None: the deployer
        "feed": None,
        "pyth": None,
        "markets": [],
    }
    if plan["upkeep_receiver"] is not None and (
        not _is_address(plan["upkeep_receiver"]) or plan["upkeep_receiver"] == ZERO_ADDRESS
    ):
        raise ConfigError(f"config: upkeep_receiver '{plan['upkeep_receiver']}' is not an address")
    if plan["heartbeat"] <= 0:
        raise ConfigError("config: heartbeat must be positive")
    if not MIN_PARAMETER_DELAY <= plan["parameter_delay"] <= MAX_PARAMETER_DELAY:
        raise ConfigError("config: parameter_delay must be 1 to 30 days (in seconds: 86400 .. 2592000)")
    if plan["heartbeat"] + plan["heartbeat"] // 10 > MAX_MAX_WAIT:
        # The oracle's max age (heartbeat + 10%) is also the shutdown's shortest wait.
        raise ConfigError("config: heartbeat above 43 h (its max age must stay within 2 days)")
    for key in ("feed", "collateral", "pyth"):
        if key not in config:
            continue
        value = config[key]
        if value == "mock":
            if not is_local:
                raise ConfigError(f"config: '{key}: mock' is for local networks only; give an address")
        elif not _is_address(value):
            raise ConfigError(f"config: {key} '{value}' is not an address")
        elif not chain.provider.get_code(value):
            raise ConfigError(f"config: no contract at {key} {value} on this network")
        plan[key] = value
    if plan["feed"] not in (None, "mock"):
        _check_feed(plan["feed"])
    if plan["pyth"] is not None:
        plan |= _plan_pyth(config, plan["pyth"])
    decimals = int(config.get("collateral_decimals", 6))
    if plan["collateral"] != "mock":
        decimals = partial_contract(plan["collateral"], _ERC20_ABI).decimals()
    if decimals > MAX_COLLATERAL_DECIMALS:
        raise ConfigError(f"config: collateral has {decimals} decimals; at most 18")
    plan["collateral_decimals"] = decimals
    if not config["markets"]:
        raise ConfigError("config: no markets")
    for market in config["markets"]:
        leverage = leverage_wad(market.get("leverage", 1))
        if not MIN_LEVERAGE <= leverage <= MAX_LEVERAGE:
            raise ConfigError(f"config: leverage {market.get('leverage')} outside 0.5 .. 5")
        kind = market.get("oracle", "pull" if plan["pyth"] else "push")
        if kind not in ("push", "pull"):
            raise ConfigError(f"config: oracle '{kind}': 'push' (Chainlink rounds) or 'pull' (Pyth prices)")
        if plan["feed" if kind == "push" else "pyth"] is None:
            raise ConfigError(f"config: a {kind} market needs '{'feed' if kind == 'push' else 'pyth'}'")
        pull = kind == "pull"
        max_age = plan["pyth_max_age"] if pull else plan["heartbeat"] + plan["heartbeat"] // 10
        params = default_order_parameters(leverage, decimals, max_age, pull) | {
            name: int(value) for name, value in (market.get("parameters") or {}).items()
        }
        unknown = set(params) - set(ORDER_PARAMETER_NAMES)
        if unknown:
            raise ConfigError(f"config: unknown parameter(s) {', '.join(sorted(unknown))}")
        try:
            check_parameters(params, decimals, leverage, pull)
        except Revert as error:
            raise ConfigError(f"config: leverage {leverage_label(leverage)}: {error.reason}") from error
        plan["markets"].append({"leverage": leverage, "pull": pull, "parameters": params})
    return plan


def _check_feed(address: str) -> None:
    feed = partial_contract(address, _FEED_ABI)
    if feed.decimals() > 18:
        raise ConfigError(f"config: feed has {feed.decimals()} decimals; at most 18")
    if feed.latestRoundData()[1] <= 0:
        raise ConfigError("config: feed answers a non-positive price")
    try:
        phase = feed.phaseId()
    except Exception as error:  # noqa: BLE001 - any failure means the same to the deployer
        raise ConfigError(
            "config: feed has no phaseId(): give the feed's proxy address (orders record its phase)"
        ) from error
    if phase == 0 or feed.latestRoundData()[0] >> 64 != phase:
        # A proxy's phases start at 1 and its round ids carry the phase: orders of
        # phase 0 could only ever be void.
        raise ConfigError(
            f"config: feed's phaseId() is {phase} and its latest round id does not carry it: "
            "give the feed's proxy address"
        )


def _plan_pyth(config: dict, pyth: str) -> dict:
    """A pull oracle's settings: the price id, where updates come from, max age and confidence."""
    price_id = str(config.get("price_id", "0x" + ETH_USD_ID.hex()))
    if re.fullmatch("(0x)?[0-9a-fA-F]{64}", price_id) is None:
        raise ConfigError(f"config: price_id '{price_id}' is not a 32-byte hex id")
    hermes = config.get("hermes")
    if pyth != "mock" and not hermes:
        raise ConfigError("config: a pull market needs 'hermes', the price service's URL (https://hermes.pyth.network)")
    max_age = int(config.get("pyth_max_age", DEFAULT_PULL_MAX_AGE))
    if not 0 < max_age <= 2 * 86_400:
        raise ConfigError("config: pyth_max_age must be 1 s to 2 days")
    confidence = Decimal(str(config.get("max_confidence", "0.01")))
    if not 0 < confidence <= Decimal("0.1"):
        raise ConfigError("config: max_confidence must be above 0 and at most 0.1 (10% of the price)")
    if pyth != "mock":
        try:
            partial_contract(pyth, PYTH_FEE_ABI).getUpdateFee([])
        except Exception as error:  # noqa: BLE001 - any failure means the same to the deployer
            raise ConfigError(f"config: {pyth} does not answer Pyth's getUpdateFee: give Pyth's contract") from error
    return {
        "price_id": "0x" + price_id.removeprefix("0x").lower(),
        "hermes": hermes,
        "pyth_max_age": max_age,
        "max_confidence": int(confidence * WAD),
    }


def deploy_plan(deployer: AccountAPI, plan: dict, network: str) -> dict:
    """Send the deployment; return the manifest."""
    start_block = chain.blocks.head.number + 1
    transactions = []
    contracts = {}
    if plan["collateral"] == "mock":
        collateral = deployer.deploy(project.MockCollateral, "Mock USD Coin", "USDC", plan["collateral_decimals"])
        transactions.append(collateral.txn_hash)
    else:
        collateral = partial_contract(plan["collateral"], _ERC20_ABI)
    contracts["collateral"] = collateral.address
    oracles = {}
    if any(not m["pull"] for m in plan["markets"]):
        if plan["feed"] == "mock":
            feed = deployer.deploy(project.MockAggregator, 8, f"{plan['asset']} / USD", 2_000 * 10**8)
            transactions.append(feed.txn_hash)
            plan["feed"] = feed.address
        oracle = deploy_oracle(
            deployer,
            plan["feed"],
            plan["heartbeat"] + plan["heartbeat"] // 10,
            plan["sequencer_feed"],
            plan["grace_period"] if plan["sequencer_feed"] != ZERO_ADDRESS else 0,
        )
        transactions.append(oracle.txn_hash)
        oracles[False] = oracle
        contracts |= {"feed": plan["feed"], "oracle": oracle.address}
    if any(m["pull"] for m in plan["markets"]):
        price_id = bytes.fromhex(plan["price_id"][2:])
        if plan["pyth"] == "mock":
            pyth, oracle = deploy_mock_pyth(deployer, price_id=price_id)
            transactions += [pyth.txn_hash, oracle.txn_hash]
            plan["pyth"] = pyth.address
        else:
            from .hermes import Hermes
            from .pull import hermes_source

            oracle = deploy_pull_oracle(deployer, plan["pyth"], price_id, plan["pyth_max_age"], plan["max_confidence"])
            transactions.append(oracle.txn_hash)
            receipt = prove_recent_price(deployer, oracle, hermes_source(Hermes(plan["hermes"]), plan["price_id"]))
            transactions.append(receipt.txn_hash)
        oracles[True] = oracle
        rebalancer = deployer.deploy(project.PullRebalancer)
        transactions.append(rebalancer.txn_hash)
        contracts |= {
            "pyth": plan["pyth"],
            "price_id": plan["price_id"],
            "pull_oracle": oracle.address,
            "pull_rebalancer": rebalancer.address,
        }
    blueprints, receipts = deploy_blueprints(deployer)
    transactions += [receipt.txn_hash for receipt in receipts]
    contracts |= {
        "lp_blueprint": blueprints.lp_token,
        "order_book_blueprint": blueprints.order_book,
        "lens_blueprint": blueprints.lens,
    }
    markets = []
    for market in plan["markets"]:
        oracle = oracles[market["pull"]]
        if market["pull"]:
            # The pool reads its first reference price from it: proven again if it is getting old.
            ensure_fresh_price(deployer, oracle, _first_price_source(plan))
        pool = deploy_pool(
            deployer,
            collateral=collateral,
            oracle=oracle,
            leverage=market["leverage"],
            blueprints=blueprints,
            asset=plan["asset"],
            params=market["parameters"],
            parameter_delay=plan["parameter_delay"],
        )
        transactions.append(pool.txn_hash)
        entry = {
            "leverage": leverage_label(market["leverage"]),
            "oracle": "pull" if market["pull"] else "push",
            "pool": pool.address,
            "lp_token": pool.lp_token(),
            "order_book": pool.order_book(),
            "lens": pool.lens(),
            "symbol": pool.symbol(),
            "parameters": market["parameters"],
            "parameter_delay": plan["parameter_delay"],
        }
        if not market["pull"]:  # Chainlink Automation cannot bring Pyth updates
            upkeep = deploy_upkeep(deployer, pool, plan["upkeep_receiver"] or deployer.address)
            transactions.append(upkeep.txn_hash)
            entry |= {"upkeep": upkeep.address, "upkeep_receiver": upkeep.receiver()}
        markets.append(entry)
    manifest = {
        "network": network,
        "chain_id": chain.chain_id,
        "deployer": deployer.address,
        "block": start_block,
        "contracts": contracts,
        "markets": markets,
        "transactions": [str(tx) for tx in transactions],
    }
    if plan.get("hermes"):
        manifest["hermes"] = plan["hermes"]
    return manifest


def _first_price_source(plan: dict):
    from .pull import signed_source

    if plan.get("hermes"):
        from .hermes import Hermes
        from .pull import hermes_source

        return hermes_source(Hermes(plan["hermes"]), plan["price_id"])
    return signed_source(lambda t: 2_000 * 10**8, bytes.fromhex(plan["price_id"][2:]))


def manifest_path(network: str) -> Path:
    return Path("deployments") / f"{network.split(':')[-1] if ':' in network else network}.json"


def write_manifest(manifest: dict, path: Path, force: bool = False) -> None:
    if path.exists() and not force:
        raise ConfigError(f"{path} exists: pass --force to replace it")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(manifest, indent=2) + "\n")


def _is_address(value) -> bool:
    return isinstance(value, str) and re.fullmatch("0x[0-9a-fA-F]{40}", value) is not None
