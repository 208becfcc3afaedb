"""The keeper bot: rebalances every watched pool as soon as it is due.

Run it with silverback (it works against a local Anvil as against a testnet):

    silverback run inverse.keeper:bot --runner inverse.runner:ResilientRunner \\
        --network ethereum:sepolia:node --account <alias>

Which pools: `INVERSE_POOLS` (comma-separated addresses) or `INVERSE_MANIFEST` (a
deployment manifest written by `ape run deploy`; every market in it).

Policy:
* it checks on every new block and once a minute (chains with sparse blocks);
* it sends `rebalance` only after `rebalance_due()` says yes and a gas estimate
  (a simulation of the call) succeeds: a transaction that would revert is never sent;
* it waits while one of its own transactions is still pending (also after a
  restart), so it never double-sends;
* it refuses to pay more gas than the bounty is worth, unless
  `INVERSE_KEEPER_ALWAYS=1` (a market's operator keeping it on schedule at a loss).
  The bounty is valued with the pool's own oracle (ETH markets: the gas token is the
  underlying) or with `INVERSE_KEEPER_NATIVE_PRICE` (collateral per gas token, WAD);
* a lost race, a stale oracle, a down sequencer or an RPC error is logged and the
  bot carries on; block polling restarts with backoff when the node goes away.

Each handler returns the metrics silverback collects and logs (rebalances, gas,
bounty, pools due, errors).
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

from ape import chain, project
from ape.exceptions import ApeException, ContractLogicError
from ape.logging import logger
from silverback import SilverbackBot

from .constants import WAD
from .deploy import partial_contract
from .status import fmt_units, fmt_wad, reason_names

bot = SilverbackBot()

# One rebalance at a time per process: a new block must not race the previous send.
_sending = threading.Lock()
# Last "why not" per pool, so a long stale spell is logged once, not every block.
_last_skip: dict[str, str] = {}


def pool_addresses() -> list[str]:
    if pools := os.environ.get("INVERSE_POOLS"):
        return [address.strip() for address in pools.split(",") if address.strip()]
    if manifest := os.environ.get("INVERSE_MANIFEST"):
        markets = json.loads(Path(manifest).read_text())["markets"]
        return [market["pool"] for market in markets]
    raise RuntimeError("keeper: set INVERSE_POOLS or INVERSE_MANIFEST")


@bot.on_startup()
def startup(startup_state):
    bot.state.pools = [project.InstantPool.at(address) for address in pool_addresses()]
    bot.state.rebalances = 0
    logger.info(f"keeper: watching {len(bot.state.pools)} pool(s): {[p.address for p in bot.state.pools]}")


@bot.on_(chain.blocks)
def on_block(block):
    return check_pools()


@bot.cron("* * * * *")
def on_timer(time):
    return check_pools()


def check_pools() -> dict:
    """Rebalance what is due; return the round's metrics."""
    metrics = {"pools_due": 0, "rebalances": 0, "errors": 0}
    if not _sending.acquire(blocking=False):
        logger.debug("keeper: previous round still running; skipping this one")
        return metrics
    try:
        for pool in bot.state.pools:
            try:
                if _retry(pool.rebalance_due):
                    metrics["pools_due"] += 1
                    report = rebalance(pool)
                    if report:
                        metrics["rebalances"] += 1
                        metrics["gas_used"] = report["gas_used"]
                        metrics["bounty"] = report["bounty"]
                else:
                    _note_skip(pool)
            except Exception as error:  # keep going whatever one pool or the node does
                metrics["errors"] += 1
                logger.warning(f"keeper: {pool.address}: {type(error).__name__}: {error}")
    finally:
        _sending.release()
    return metrics


def rebalance(pool) -> dict | None:
    signer = bot.signer
    if signer is None:
        logger.info(f"keeper: {pool.address} is due (no signer: watching only)")
        return None
    if _has_pending_transaction(signer.address):
        logger.info("keeper: a previous transaction is still pending; waiting")
        return None
    try:
        gas = pool.rebalance.estimate_gas_cost(sender=signer)
    except ContractLogicError as error:
        # Someone else rebalanced first, or the oracle just went bad: nothing to send.
        logger.info(f"keeper: {pool.address} no longer rebalances ({error.message}); not sending")
        return None
    logger.debug(f"keeper: {pool.address} is due; simulated gas {gas}")
    if not _worth_it(pool, gas):
        return None
    try:
        receipt = pool.rebalance(sender=signer, gas_limit=gas * 13 // 10)
    except ContractLogicError as error:
        logger.info(f"keeper: lost the race on {pool.address} ({error.message}); not resending")
        return None
    events = receipt.events.filter(pool.Rebalance)
    if not events:
        return None
    event = events[0]
    decimals = _decimals(pool)
    report = {
        "pool": pool.address,
        "reason": reason_names(event.reason),
        "price": event.price,
        "nav": event.nav,
        "gas_used": receipt.gas_used,
        "bounty": event.bounty,
    }
    bot.state.rebalances += 1
    logger.success(
        f"keeper: rebalanced {pool.address} ({report['reason']}) at price {fmt_wad(event.price, 2)}, "
        f"NAV {fmt_wad(event.nav, 6)}, gas {receipt.gas_used}, bounty {fmt_units(event.bounty, decimals, 6)}"
    )
    return report


def _worth_it(pool, gas: int) -> bool:
    """Gas cost against the bounty, both in the gas token."""
    if os.environ.get("INVERSE_KEEPER_ALWAYS") == "1":
        return True
    # What the node says gas costs now (base fee plus tip), not a local default.
    cost = gas * chain.provider.web3.eth.gas_price
    if cost == 0:
        return True
    native_price = int(os.environ.get("INVERSE_KEEPER_NATIVE_PRICE") or pool.oracle_price())
    bounty_wad = pool.keeper_bounty() * 10 ** (18 - _decimals(pool))
    bounty_in_gas_token = bounty_wad * WAD // native_price
    if cost > bounty_in_gas_token:
        logger.info(
            f"keeper: {pool.address} due, but gas ({cost} wei) costs more than the bounty "
            f"({bounty_in_gas_token} wei); set INVERSE_KEEPER_ALWAYS=1 to rebalance anyway"
        )
        return False
    return True


def _note_skip(pool) -> None:
    """Log once why a pool is not due when the reason is a bad oracle."""
    try:
        pool.oracle_price()
        reason = "ok"
    except ContractLogicError as error:
        reason = str(error.message)
    if _last_skip.get(pool.address) != reason:
        if reason != "ok":
            logger.warning(f"keeper: {pool.address} cannot rebalance: {reason}; waiting for the oracle")
        elif pool.address in _last_skip:
            logger.info(f"keeper: {pool.address} oracle back")
        _last_skip[pool.address] = reason


_decimals_cache: dict[str, int] = {}
_DECIMALS_ABI = [
    {
        "type": "function",
        "name": "decimals",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [{"name": "", "type": "uint8"}],
    }
]


def _decimals(pool) -> int:
    """The collateral's decimals (read once per pool)."""
    if pool.address not in _decimals_cache:
        _decimals_cache[pool.address] = partial_contract(pool.collateral(), _DECIMALS_ABI).decimals()
    return _decimals_cache[pool.address]


def _has_pending_transaction(address: str) -> bool:
    web3 = chain.provider.web3
    return web3.eth.get_transaction_count(address, "pending") > web3.eth.get_transaction_count(address, "latest")


def _retry(call, attempts: int = 3, delay: float = 0.5):
    """RPC calls retried with backoff; contract reverts are answers, not errors."""
    for attempt in range(attempts):
        try:
            return call()
        except ContractLogicError:
            raise
        except (ApeException, OSError, ConnectionError) as error:
            if attempt == attempts - 1:
                raise
            logger.warning(f"keeper: RPC error ({error}); retrying")
            time.sleep(delay * 2**attempt)
