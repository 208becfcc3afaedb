"""The keeper bot: settles every watched market's due orders and rebalances it
as soon as it is due.

Run it with silverback (it works against a local Anvil as against a testnet):

    silverback run inverse.keeper:bot --runner inverse.runner:ResilientRunner \\
        --network ethereum:sepolia:node --account <alias>

Which pools: `INVERSE_MANIFEST` (a deployment manifest written by `ape run
deploy`: every market in it, its order book read from the manifest's block on) or
`INVERSE_POOLS` (comma-separated addresses; their order books are read from
`INVERSE_FROM_BLOCK`, default 0). Pull markets (SPEC 3b) need a Hermes price
service: `INVERSE_HERMES_URL`, else the manifest's `hermes`.

Policy:
* it checks on every new block and once a minute (chains with sparse blocks); a
  block that arrives while it is busy makes it check again at once when done;
* orders first: it reads each book's `OrderRequested` logs incrementally (a
  cursor and a cache of pending orders), finds the round of every due order off
  chain and settles them in queue order, up to 20 a transaction; then it sends
  `rebalance` when `rebalance_due()` says yes (a rebalance waits for due orders).
  A backlog (up to 10 batches) and the rebalance it holds up go together, with
  consecutive nonces, so that they land in one block: the node simulates the
  sequence first (`eth_simulateV1`); without it, one batch a block;
* on a pull market an order is due once its T has passed: it fetches the first
  update at or after each slot from Hermes and sends it with the batch and Pyth's
  fee; when a fresh price would make a rebalance due (the interval has passed, or
  Hermes's latest price is past the threshold), it proves a recent slot's price
  and rebalances in one transaction (`PullRebalancer`: INVERSE_PULL_REBALANCER, else
  the manifest's);
* every transaction is simulated first (a gas estimate): one that would revert is
  never sent. A lost race is harmless: `settle` skips orders a competitor
  settled, and a rejected batch (stale ids) makes it read the book again;
* a transaction of its own still pending after `INVERSE_KEEPER_STUCK_AFTER`
  seconds (default 60) is replaced with the same nonce at a 25% higher fee; it
  waits while an older one it did not send in this run is pending (after a
  restart), so it never double-sends;
* a transaction's cost is the gas it should use (`eth_createAccessList`, else the
  estimate) at the node's gas price. One that pays for its gas (settle fees,
  bounty) is sent at once; one that costs more than it earns only within the
  operator's daily loss budget, `INVERSE_KEEPER_MAX_DAILY_LOSS` (in the gas
  token, a decimal figure: `0.05` is 0.05 ETH; default 0, never at a loss): while
  its net loss over the last 24 hours of chain time (gas spent less what it
  earned, across all its markets), this transaction's included, stays within the
  budget. `INVERSE_KEEPER_LOSS_FILE` keeps that record across restarts;
  `INVERSE_KEEPER_ALWAYS=1` sends whatever it costs (no cap). A batch pays when
  its fees and the bounty of the rebalance it unblocks together pay for it;
  against the budget it counts its fees only (the bounty comes with the
  rebalance, which is checked in turn);
* earnings are valued in the gas token with `INVERSE_KEEPER_NATIVE_FEED` (a
  Chainlink feed of the gas token in the collateral's unit, e.g. ETH / USD, read
  at each decision), else `INVERSE_KEEPER_NATIVE_PRICE` (collateral per gas
  token, WAD), else the pool's own oracle price: right only where the underlying
  is the gas token (ETH markets), and the bot warns at start when a pool's feed
  says otherwise;
* a stale oracle, a down sequencer or an RPC error is logged and the bot carries
  on; block polling restarts with backoff when the node goes away.

Each settlement and rebalance is logged with what it earned and what its gas
cost, and the running totals; the handlers return the metrics silverback collects.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

from ape import chain, project
from ape.exceptions import ApeException, ContractLogicError
from ape.logging import logger
from eth_utils import to_hex
from silverback import SilverbackBot
from web3.exceptions import Web3Exception

from .constants import (
    BOUNTY_BUDGET,
    BOUNTY_RESERVE,
    MAX_BATCH,
    ORDER_LP_WITHDRAW,
    ORDER_PARAMETER_NAMES,
    ORDER_REDEEM,
    ORDER_SHUTDOWN,
    OUTCOMES,
    PAYOUT_GAS,
    PULL_MAX_PROOFS,
    REASON_THRESHOLD,
    REASON_TIME,
    WAD,
)
from .deploy import PYTH_FEE_ABI, partial_contract
from .hermes import Hermes, hermes_url
from .model import keeper_bounty_paid
from .orders import PHASE_SHIFT, Order, OrderCache, RawFeed, due_orders, in_batches, raw_view
from .pull import current_slot_update, hermes_source, pull_batch, rebalance_would_be_due, recent_slot, update_fee
from .status import fmt_units, fmt_wad, reason_names

bot = SilverbackBot()

# One check at a time per process: a new block must not race the previous send.
_sending = threading.Lock()
# Set when a block arrives during a check: the running check goes round again.
_again = threading.Event()
# Last "why not" per pool, so a long stale spell is logged once, not every block.
_last_skip: dict[str, str] = {}
# Last refusal per pool for gas or budget: (kind, monotonic time logged).
_refusals: dict[str, tuple] = {}
# Most batches sent at once per market (MAX_BATCH orders each): 200 orders, about
# 7 million gas, a quarter of an Ethereum block.
MAX_BATCHES_PER_CHECK = 10

_DECIMALS_ABI = [
    {"type": "function", "name": "decimals", "stateMutability": "view", "inputs": [], "outputs": [{"type": "uint8"}]}
]

DAY = 86_400
GWEI = 10**9
# Refusals are logged when their kind changes, else at most this often (seconds).
REFUSAL_LOG_EVERY = 600


@dataclass
class LossLedger:
    """The keeper's net result per transaction, for the daily loss budget:
    (chain time, wei lost; negative when it earned more than its gas)."""

    budget: int | None  # wei; None: no cap (INVERSE_KEEPER_ALWAYS=1)
    path: Path | None = None  # where it is kept across restarts
    key: dict = field(default_factory=dict)  # chain id and keeper the file belongs to
    entries: list = field(default_factory=list)

    def lost(self, now: int) -> int:
        """Net loss over the 24 hours before `now` (negative: a net gain)."""
        self.entries = [(t, wei) for t, wei in self.entries if t > now - DAY]
        return sum(wei for _, wei in self.entries)

    def record(self, now: int, wei: int) -> None:
        self.entries.append((now, wei))
        self.lost(now)
        if self.path:
            self.path.write_text(json.dumps(self.key | {"losses": self.entries}))

    def load(self) -> None:
        if not (self.path and self.path.exists()):
            return
        data = json.loads(self.path.read_text())
        if {k: data.get(k) for k in self.key} != self.key:
            logger.warning(f"keeper: {self.path} belongs to another chain or keeper; starting a new record")
            return
        self.entries = [(int(t), int(wei)) for t, wei in data.get("losses", [])]


def loss_budget() -> int | None:
    """INVERSE_KEEPER_MAX_DAILY_LOSS in wei (a decimal figure in the gas token), or
    None with INVERSE_KEEPER_ALWAYS=1 (no cap)."""
    text = (os.environ.get("INVERSE_KEEPER_MAX_DAILY_LOSS") or "").strip()
    always = os.environ.get("INVERSE_KEEPER_ALWAYS") == "1"
    if always and text:
        raise RuntimeError("keeper: set INVERSE_KEEPER_MAX_DAILY_LOSS or INVERSE_KEEPER_ALWAYS=1, not both")
    if always:
        return None
    try:
        budget = Decimal(text or "0")
    except InvalidOperation:
        budget = Decimal(-1)
    if not budget.is_finite() or budget < 0:
        raise RuntimeError(
            f"keeper: INVERSE_KEEPER_MAX_DAILY_LOSS={text!r}: give an amount of the gas token, e.g. 0.05 (ETH)"
        )
    return int(budget * WAD)


@dataclass
class PullFeed:
    """A pull market's oracle: its adapter, Pyth's fee and the Hermes it fetches from."""

    oracle: object  # PythOracle
    hermes: Hermes
    price_id: str  # hex, no 0x
    rebalancer: object  # PullRebalancer: proves a recent slot's price and rebalances at once

    def __post_init__(self):
        self.proven = raw_view(self.oracle.address, "proven(uint256)", ["bool", "uint256", "uint256"])
        self.pyth = partial_contract(self.oracle.pyth(), PYTH_FEE_ABI)
        self.source = hermes_source(self.hermes, self.price_id)

    def price(self) -> int:
        """Hermes's latest price as a WAD."""
        parsed = self.hermes.latest([self.price_id]).parsed[0]["price"]
        expo = int(parsed["expo"])
        price = int(parsed["price"])
        return price * 10 ** (18 + expo) if expo >= -18 else price // 10 ** (-18 - expo)


@dataclass
class Market:
    pool: object
    book: object
    feed: RawFeed | None  # None on a pull market
    orders: OrderCache
    decimals: int  # the collateral's
    fees: int = 0  # settle fees earned by this run (collateral)
    bounties: int = 0  # rebalance bounties earned by this run (collateral)
    pull: PullFeed | None = None

    def __post_init__(self):
        # What every block reads, as bare calls (a block's check stays a few ms).
        self.rebalance_due = raw_view(self.pool.address, "rebalance_due()", ["bool"])
        self.is_shutdown = raw_view(self.pool.address, "is_shutdown()", ["bool"])
        self.oracle_price = raw_view(self.pool.address, "oracle_price()", ["uint256"])
        lens = self.pool.lens()
        self.lp_value = raw_view(lens, "lp_value()", ["uint256"])
        self.preview_exit = {
            ORDER_REDEEM: raw_view(lens, "preview_redeem(uint256)", ["uint256"]),
            ORDER_LP_WITHDRAW: raw_view(lens, "preview_lp_withdraw(uint256)", ["uint256"]),
        }
        for name in ("last_rebalance", "reference_price"):
            setattr(self, name, raw_view(self.pool.address, f"{name}()", ["uint256"]))
        parameters = raw_view(self.pool.address, "parameters()", ["uint256"] * len(ORDER_PARAMETER_NAMES))
        for name in ("keeper_bounty", "interval", "threshold"):
            index = ORDER_PARAMETER_NAMES.index(name)
            setattr(self, name, lambda index=index: parameters()[index])

    @property
    def address(self) -> str:
        return self.pool.address

    def bounty(self, now: int, time_only: bool) -> int:
        """What a rebalance at `now` should pay, for a batch that unblocks it (the
        rebalance itself is priced exactly by calling it): keepers' budget as it
        usually stands, the reserve full at the last rebalance and what filled
        since, capped by the LP value. After a crash has spent the reserve it may
        count a bounty the rebalance will not pay."""
        try:
            lp_value = self.lp_value()
        except ValueError:  # no price: nothing to count on
            return 0
        budget = min(BOUNTY_RESERVE + now - self.last_rebalance(), BOUNTY_BUDGET)
        return keeper_bounty_paid(self.keeper_bounty(), budget, lp_value, time_only)[0]


def watched_markets() -> list[tuple[str, int]]:
    """(pool address, block its order book was deployed at or before)."""
    if pools := os.environ.get("INVERSE_POOLS"):
        start = int(os.environ.get("INVERSE_FROM_BLOCK") or 0)
        return [(address.strip(), start) for address in pools.split(",") if address.strip()]
    if manifest := os.environ.get("INVERSE_MANIFEST"):
        data = json.loads(Path(manifest).read_text())
        return [(market["pool"], int(data.get("block", 0))) for market in data["markets"]]
    raise RuntimeError("keeper: set INVERSE_POOLS or INVERSE_MANIFEST")


def load_market(address: str, start_block: int) -> Market:
    pool = project.InversePool.at(address)
    book = project.OrderBook.at(pool.order_book())
    decimals = partial_contract(pool.collateral(), _DECIMALS_ABI).decimals()
    if book.pull():
        oracle = project.PythOracle.at(pool.oracle())
        manifest_file = os.environ.get("INVERSE_MANIFEST")
        manifest = json.loads(Path(manifest_file).read_text()) if manifest_file else {}
        rebalancer = os.environ.get("INVERSE_PULL_REBALANCER") or manifest.get("contracts", {}).get("pull_rebalancer")
        if not rebalancer:
            raise RuntimeError("keeper: a pull market rebalances through a PullRebalancer: set INVERSE_PULL_REBALANCER")
        pull = PullFeed(
            oracle,
            Hermes(hermes_url(manifest)),
            oracle.price_id().hex().removeprefix("0x"),
            project.PullRebalancer.at(rebalancer),
        )
        return Market(pool, book, None, OrderCache(book.address, start_block), decimals, pull=pull)
    feed = RawFeed(project.ChainlinkOracle.at(pool.oracle()).feed())
    return Market(pool, book, feed, OrderCache(book.address, start_block), decimals)


@bot.on_startup()
def startup(startup_state):
    bot.state.markets = [load_market(address, start) for address, start in watched_markets()]
    bot.state.rebalances = 0
    bot.state.settled = 0
    bot.state.gas_spent = 0  # wei
    bot.state.symbol = getattr(chain.provider.network.ecosystem, "fee_token_symbol", None) or "ETH"
    bot.state.native_feed = _native_feed()
    bot.state.losses = _ledger()
    logger.info(f"keeper: watching {len(bot.state.markets)} pool(s): {[m.address for m in bot.state.markets]}")
    _log_policy()


def _ledger() -> LossLedger:
    ledger = LossLedger(loss_budget())
    if (path := os.environ.get("INVERSE_KEEPER_LOSS_FILE")) and bot.signer is not None:
        ledger.path = Path(path)
        ledger.key = {"chain_id": chain.chain_id, "keeper": bot.signer.address}
        ledger.load()
    return ledger


def _native_feed():
    """INVERSE_KEEPER_NATIVE_FEED: (latestRoundData, scale to WAD), or None."""
    address = (os.environ.get("INVERSE_KEEPER_NATIVE_FEED") or "").strip()
    if not address:
        return None
    decimals = partial_contract(address, _DECIMALS_ABI).decimals()
    latest = raw_view(address, "latestRoundData()", ["uint80", "int256", "uint256", "uint256", "uint80"])
    return latest, 10 ** (18 - decimals)


def _log_policy() -> None:
    """Say at start how it decides what is worth sending, and with which price."""
    symbol, ledger = bot.state.symbol, bot.state.losses
    if ledger.budget is None:
        logger.info("keeper: INVERSE_KEEPER_ALWAYS=1: it sends whatever gas costs (no daily loss cap)")
    elif ledger.budget == 0:
        logger.info(
            "keeper: it sends only what pays for its gas (no daily loss budget; set INVERSE_KEEPER_MAX_DAILY_LOSS "
            "to keep markets on schedule at a loss)"
        )
    else:
        now = _head_time()
        logger.info(
            f"keeper: daily loss budget {fmt_wad(ledger.budget, 6)} {symbol}: unprofitable settlements and rebalances "
            f"are sent while the net loss over 24 h stays within it; lost in the last 24 h: "
            f"{fmt_wad(max(ledger.lost(now), 0), 6)} {symbol}"
            + ("" if ledger.path else " (kept in memory: set INVERSE_KEEPER_LOSS_FILE to keep it across restarts)")
        )
    if bot.state.native_feed:
        feed = os.environ["INVERSE_KEEPER_NATIVE_FEED"].strip()
        logger.info(f"keeper: earnings valued in {symbol} at the price of the feed {feed} (INVERSE_KEEPER_NATIVE_FEED)")
    elif price := os.environ.get("INVERSE_KEEPER_NATIVE_PRICE"):
        logger.info(
            f"keeper: earnings valued in {symbol} at {fmt_wad(int(price), 2)} per {symbol} "
            "(INVERSE_KEEPER_NATIVE_PRICE)"
        )
    else:
        for market in bot.state.markets:
            if market.feed is None:
                continue  # a pull market: its price id says nothing a log could check
            underlying = _feed_asset(market.feed.address)
            if underlying and underlying.upper() != symbol.upper():
                logger.warning(
                    f"keeper: {market.address} prices {underlying}, not {symbol}: its earnings would be valued at the "
                    f"{underlying} price; set INVERSE_KEEPER_NATIVE_FEED (a {symbol} / USD feed) or "
                    "INVERSE_KEEPER_NATIVE_PRICE"
                )
        logger.info(
            f"keeper: earnings valued in {symbol} at each pool's own oracle price "
            f"(right where the underlying is {symbol})"
        )


def _feed_asset(address: str) -> str | None:
    """The asset a feed prices ("ETH" for "ETH / USD"); None if it cannot say."""
    try:
        description = raw_view(address, "description()", ["string"])()
    except (ValueError, ApeException, Web3Exception):
        return None
    base = description.split("/")[0].strip()
    return base or None


@bot.on_(chain.blocks)
def on_block(block):
    return check_pools()


@bot.cron("* * * * *")
def on_timer(time):
    return check_pools()


def check_pools() -> dict:
    """Settle and rebalance what is due; return the round's metrics."""
    metrics = {"pools_due": 0, "orders_settled": 0, "settle_fees": 0, "rebalances": 0, "errors": 0}
    if not _sending.acquire(blocking=False):
        _again.set()  # the running check looks again once it is done
        return metrics
    try:
        for _ in range(10):  # bounded: a steady stream of blocks must not pin it here
            _again.clear()
            for market in bot.state.markets:
                check_market(market, metrics)
            if not _again.is_set():
                break
    finally:
        _sending.release()
    return metrics


def check_market(market: Market, metrics: dict) -> None:
    try:
        for _ in range(MAX_BATCHES_PER_CHECK):
            report = settle_due(market)
            if not report:
                break
            metrics["orders_settled"] += report["settled"]
            metrics["settle_fees"] += report["fees"]
            metrics["gas_used"] = metrics.get("gas_used", 0) + report["gas_used"]
            if done := report.get("rebalanced"):
                metrics["pools_due"] += 1
                metrics["rebalances"] += 1
                metrics["gas_used"] += done["gas_used"]
                metrics["bounty"] = done["bounty"]
            if not report["full"]:
                break
        due, updates = _retry(market.rebalance_due), None
        if market.pull and not due:
            updates = fresh_price_updates(market)
            due = updates is not None
        if due:
            metrics["pools_due"] += 1
            report = rebalance(market, updates)
            if report:
                metrics["rebalances"] += 1
                metrics["gas_used"] = metrics.get("gas_used", 0) + report["gas_used"]
                metrics["bounty"] = report["bounty"]
        else:
            _note_skip(market)
    except Exception as error:  # keep going whatever one pool or the node does
        metrics["errors"] += 1
        logger.warning(f"keeper: {market.address}: {type(error).__name__}: {error}")


# ---------------------------------------------------------------- settlement


@dataclass
class Batch:
    """One `settle` call: its orders in queue order (each with whether it will be
    void, which earns its settler nothing), their round ids and, on a pull market,
    the slots' updates it proves with Pyth's fee for them."""

    due: list[tuple[Order, bool]]
    round_ids: list[int]
    updates: list | None = None  # pull market: (slot, update data) for each slot not proven yet
    fee: int = 0

    def call(self, market: Market) -> tuple:
        """(method, args, value) of its `settle`."""
        orders = [order.as_struct() for order, _ in self.due]
        args = (orders, self.round_ids) if self.updates is None else (orders, self.round_ids, self.updates)
        return market.book.settle, args, self.fee


def due_batches(market: Market, pending: list[Order], now: int) -> list[Batch]:
    """The due run at the head of the queue, cut into batches of MAX_BATCH orders (at
    most MAX_BATCHES_PER_CHECK of them): each batch in turn settles the next orders,
    so they may all go in one block."""
    shut = _retry(market.is_shutdown)
    if not market.pull:
        limit = MAX_BATCH * MAX_BATCHES_PER_CHECK
        due = _retry(lambda: due_orders(pending, market.feed, now, shut, limit))
        chunks = in_batches(due)[:MAX_BATCHES_PER_CHECK]
        return [Batch([(order, void) for order, _, void in chunk], [r for _, r, _ in chunk]) for chunk in chunks]
    # A pull batch proves at most PULL_MAX_PROOFS slots; a later batch counts the
    # slots an earlier one proves as proven.
    batches: list[Batch] = []
    proving: set[int] = set()

    def proven(slot: int) -> bool:
        return slot in proving or market.pull.proven(slot)[0]

    while pending and len(batches) < MAX_BATCHES_PER_CHECK:
        pulled = _retry(lambda rest=pending, shut=shut: pull_batch(rest, proven, market.pull.source, now, shut))
        if not pulled.due:
            break
        fee = _retry(lambda updates=pulled.updates: update_fee(market.pull.pyth, updates))
        batches.append(Batch(pulled.due, pulled.round_ids, pulled.updates, fee))
        proving.update(slot for slot, _ in pulled.updates)
        shut = shut or any(order.kind == ORDER_SHUTDOWN for order, _ in pulled.due)
        pending = pending[len(pulled.due) :]
        if len(pulled.due) < MAX_BATCH and len(pulled.updates) < PULL_MAX_PROOFS:
            break  # short of both limits: nothing more is due
    if batches and all(order.held for order, _ in batches[0].due) and market.orders.held_at > now:
        # Held deposits alone, their round's Pyth price ahead of the chain's clock (no
        # queue order of a later round is due yet): the book holds them until a
        # block's time reaches it (the next block's may equal this one's).
        return []
    return batches


def settle_due(market: Market) -> dict | None:
    """Settle the due run of orders at the head of the market's queue. One batch is
    sent as it is; several, or a batch that a due rebalance waits for, go as one
    sequence of transactions with consecutive nonces, the rebalance last, so that
    they land in one block: simulated first in that order (`eth_simulateV1`), each
    with the gas it used there. A node that cannot simulate a sequence gets the
    first batch alone."""
    head = _retry(lambda: chain.provider.web3.eth.get_block("latest"))
    now = head["timestamp"]
    pending = _retry(lambda: market.orders.update(head["number"]))
    if not pending or not _may_be_due(market, pending[0], now):
        return None
    batches = due_batches(market, pending, now)
    if not batches:
        return None
    signer = bot.signer
    count = sum(len(batch.due) for batch in batches)
    if signer is None:
        logger.info(f"keeper: {market.address}: {count} order(s) due (no signer: watching only)")
        return None
    if _waiting_for_unknown_transaction(signer.address):
        return None
    waits = _rebalance_waits(market, now)
    if len(batches) > 1 or waits:
        calls = [batch.call(market) for batch in batches]
        if waits and (rebalance_call := _rebalance_call(market, now)):
            calls.append(rebalance_call)
        if (first := _simulate(calls, head)) is not None:
            # The gas each used there, with a margin for refunds (a fifth at most) and
            # for a payout, which refuses to start with less than PAYOUT_GAS left;
            # simulated again at those limits, as it will be sent.
            limits = [outcome["gas"] * 3 // 2 + 2 * PAYOUT_GAS for outcome in first]
            if (outcomes := _simulate(calls, head, limits)) is not None:
                return _settle_in_one_block(market, batches, calls, outcomes, limits, now)
    return _settle_batch(market, batches[0], now, waits)


def _settle_batch(market: Market, batch: Batch, now: int, waits: int) -> dict | None:
    """Send one batch, priced by a gas estimate (a revert is never sent); `waits`:
    why a rebalance waits for it (`_rebalance_waits`), whose bounty it earns too."""
    method, args, value = batch.call(market)
    try:
        txn, gas = _prepare(method, *args, value=value)
    except ContractLogicError as error:
        # Stale ids (a reorg, a log not seen yet) or the oracle just changed: read again.
        logger.info(f"keeper: {market.address}: settle would revert ({error.message}); reading the book again")
        market.orders.reset()
        return None
    fees = _batch_fees(market, [batch])

    def reward() -> int:  # the batch also earns the bounty of a rebalance that waits for it
        return fees + (market.bounty(now, waits == REASON_TIME) if waits else 0)

    if not _worth_it(market, txn, gas, reward, fees, f"{len(batch.due)} order(s) due", now):
        return None
    receipt = _send(txn, gas)
    if receipt is None:
        return None
    return _settled(market, len(batch.due), receipt) | {"full": len(batch.due) >= MAX_BATCH}


def _settle_in_one_block(
    market: Market, batches: list[Batch], calls: list, outcomes: list, limits: list[int], now: int
) -> dict | None:
    """Send the batches (and the rebalance, when it is `calls`' last) that the
    simulation passed, in order, back to back; the first that failed there and all
    after it stay behind (read again at the next check)."""
    passed = 0
    while passed < len(outcomes) and outcomes[passed]["ok"]:
        passed += 1
    settles = min(passed, len(batches))
    if settles < len(batches):
        reason = outcomes[settles]["error"]
        logger.info(f"keeper: {market.address}: batch {settles + 1} would revert ({reason}); reading the book again")
        market.orders.reset()
        if settles == 0:
            return None
    rebalances = passed > len(batches)
    sent = outcomes[: settles + rebalances]
    bounty = sent[-1]["returned"] if rebalances else 0
    fees = _batch_fees(market, batches[:settles])
    count = sum(len(batch.due) for batch in batches[:settles])
    what = f"{count} order(s) due in {settles} batch(es)" + (" and the rebalance they hold up" if rebalances else "")
    if not _worth_it(market, None, sum(o["gas"] for o in sent), lambda: fees + bounty, None, what, now):
        return None
    signer = bot.signer
    nonce = chain.provider.web3.eth.get_transaction_count(signer.address)
    txns = []
    for k, ((method, args, value), limit) in enumerate(zip(calls[: len(sent)], limits, strict=False)):
        txns.append(method.as_transaction(*args, sender=signer, value=value, gas_limit=limit, nonce=nonce + k))
    receipts = _send_all(txns)
    report = {"settled": 0, "fees": 0, "gas_used": 0, "full": settles == MAX_BATCHES_PER_CHECK}
    for batch, receipt in zip(batches[:settles], receipts, strict=False):
        if receipt is not None:
            done = _settled(market, len(batch.due), receipt)
            report = report | {key: report[key] + done[key] for key in ("settled", "fees", "gas_used")}
    if rebalances and receipts[-1] is not None and (done := _rebalanced(market, receipts[-1])):
        report["rebalanced"] = done
    return report


def _batch_fees(market: Market, batches: list[Batch]) -> int:
    return sum(_settle_fee(market, order) for batch in batches for order, void in batch.due if not void)


def _settled(market: Market, size: int, receipt) -> dict:
    """Log a mined settlement and book what it earned; its report."""
    events = [e for e in _events(receipt, market.pool, "OrderSettled") if e.settler == bot.signer.address]
    earned = sum(e.settle_fee for e in events)
    outcomes: dict[str, int] = {}
    for event in events:
        name = OUTCOMES.get(event.outcome, str(event.outcome))
        outcomes[name] = outcomes.get(name, 0) + 1
    spent = _spend(receipt)
    _credit(market, earned)
    market.fees += earned
    bot.state.settled += len(events)
    skipped = size - len(events)
    logger.success(
        f"keeper: settled {len(events)} order(s) on {market.address} "
        f"({', '.join(f'{n} {name}' for name, n in outcomes.items()) or 'none'}"
        f"{f'; {skipped} already settled by someone else' if skipped else ''}), "
        f"gas {receipt['gasUsed']} ({_eth(spent)}), settle fees {fmt_units(earned, market.decimals, 6)}; " + _totals()
    )
    return {"settled": len(events), "fees": earned, "gas_used": receipt["gasUsed"]}


def _settle_fee(market: Market, order: Order) -> int:
    """What settling `order` (not void) should earn: its settle fee, except that an
    exit pays it out of what it gets, so one that would get nothing (dust) earns
    nothing. (An LP withdrawal the backing rule refuses pays it in LP shares.)"""
    fee = order.settle_fee
    if order.kind not in market.preview_exit:
        return fee
    try:
        return 0 if market.preview_exit[order.kind](order.amount) == 0 else fee
    except ValueError:  # no price to preview against: count the fee (clearing the queue matters)
        return fee


def _may_be_due(market: Market, order, now: int) -> bool:
    """A cheap look before finding rounds: the head order waits while the feed's
    latest round, in its phase, is older than its T and it has not expired (on a
    pull market, while its T is ahead)."""
    if market.pull:
        return now >= order.not_before
    try:
        round_id, _, _, updated_at, _ = market.feed.latestRoundData()
    except ValueError:
        return True  # the feed cannot say: let the round search decide
    same_phase = int(round_id) >> PHASE_SHIFT == order.phase
    return not (same_phase and updated_at < order.not_before and now <= order.expires_at)


def _rebalance_waits(market: Market, now: int) -> int:
    """Why a rebalance is due but for the orders (REASON_TIME, REASON_THRESHOLD, both),
    0 when it is not."""
    # A pull market's time rebalance needs a price published once it fell due.
    at = recent_slot(now) if market.pull else now
    reason = REASON_TIME if at >= market.last_rebalance() + market.interval() else 0
    try:
        # On a pull market the price a rebalance would prove: Hermes's latest.
        price = market.pull.price() if market.pull else market.oracle_price()
    except (ValueError, RuntimeError, OSError):
        return reason
    reference = market.reference_price()
    return reason | (REASON_THRESHOLD if abs(price - reference) * WAD >= market.threshold() * reference else 0)


# ---------------------------------------------------------------- rebalance


def fresh_price_updates(market: Market) -> list | None:
    """On a pull market whose price on-chain makes no rebalance due: the current
    slot's update if that price would (the interval has passed, or Hermes's latest
    price is past the threshold), to prove and rebalance with in one transaction;
    None otherwise."""
    head = _retry(lambda: chain.provider.web3.eth.get_block("latest"))
    now, pull = head["timestamp"], market.pull
    slot = recent_slot(now)
    if _retry(market.is_shutdown) or pull.proven(slot)[0]:
        return None  # proven already: `rebalance_due()` has the answer
    last, interval = market.last_rebalance(), market.interval()
    # The time alone makes it due; else Hermes's latest price must be past the threshold.
    price = 0 if slot >= last + interval else _retry(pull.price)
    if not rebalance_would_be_due(now, price, last, interval, market.reference_price(), market.threshold()):
        return None
    return _retry(lambda: current_slot_update(now, lambda _: False, pull.source))  # not proven: read above


def rebalance(market: Market, updates: list | None = None) -> dict | None:
    """Rebalance; on a pull market with `updates`, through the PullRebalancer, which
    proves a recent slot's price and rebalances in one transaction."""
    pool, signer = market.pool, bot.signer
    if signer is None:
        logger.info(f"keeper: {pool.address} is due (no signer: watching only)")
        return None
    if _waiting_for_unknown_transaction(signer.address):
        return None
    try:
        if updates:
            fee = update_fee(market.pull.pyth, updates)
            rebalancer = market.pull.rebalancer
            txn, gas = _prepare(rebalancer.rebalance, pool.address, updates, value=fee)
            bounty = rebalancer.rebalance.call(pool.address, updates, value=fee, sender=signer)
        else:
            txn, gas = _prepare(pool.rebalance)
            bounty = pool.rebalance.call(sender=signer)  # exactly what it pays, from keepers' budget
    except ContractLogicError as error:
        # Someone else rebalanced first, an order came due, or the oracle just went bad.
        logger.info(f"keeper: {pool.address} no longer rebalances ({error.message}); not sending")
        return None
    if not _worth_it(market, txn, gas, lambda: bounty, None, "due", _head_time()):
        return None
    receipt = _send(txn, gas)
    return None if receipt is None else _rebalanced(market, receipt)


def _rebalanced(market: Market, receipt) -> dict | None:
    """Log a mined rebalance and book its bounty; its report (None: someone else's came first)."""
    events = _events(receipt, market.pool, "Rebalance")
    if not events:
        return None
    event = events[0]
    spent = _spend(receipt)
    _credit(market, event.bounty)
    market.bounties += event.bounty
    bot.state.rebalances += 1
    logger.success(
        f"keeper: rebalanced {market.address} ({reason_names(event.reason)}) at price {fmt_wad(event.price, 2)}, "
        f"NAV {fmt_wad(event.nav, 6)}, gas {receipt['gasUsed']} ({_eth(spent)}), "
        f"bounty {fmt_units(event.bounty, market.decimals, 6)}; " + _totals()
    )
    return {
        "pool": market.address,
        "reason": reason_names(event.reason),
        "gas_used": receipt["gasUsed"],
        "bounty": event.bounty,
    }


def _rebalance_call(market: Market, now: int) -> tuple | None:
    """(method, args, value) of the rebalance to send after the due orders: on a
    pull market through the PullRebalancer, with the head's slot's update unless it
    is proven (None while that price is not out)."""
    if not market.pull:
        return market.pool.rebalance, (), 0
    pull = market.pull
    updates = _retry(lambda: current_slot_update(now, lambda slot: pull.proven(slot)[0], pull.source))
    if updates is None:
        return None
    fee = _retry(lambda: update_fee(pull.pyth, updates))
    return market.pull.rebalancer.rebalance, (market.address, updates), fee


# ---------------------------------------------------------------- sending


def _prepare(method, *args, value: int = 0):
    """The signer's transaction `method(*args)` (sending `value` wei), built once
    (nonce and fees read now), and its gas estimate: the simulation that keeps a
    transaction that would revert from being sent (it raises ContractLogicError)."""
    txn = method.as_transaction(*args, sender=bot.signer, value=value)
    return txn, chain.provider.estimate_gas_cost(txn)


def _gas_used(txn, limit: int) -> int:
    """The gas `txn` should use, refunds taken (eth_createAccessList simulates it):
    what it will cost, where the estimate is the limit it needs, up to twice as
    much here. The estimate when the node cannot say."""
    if txn is None:  # priced by a simulation already
        return limit
    web3 = chain.provider.web3
    call = {"from": txn.sender, "to": txn.receiver, "data": web3.to_hex(txn.data), "value": hex(txn.value or 0)}
    try:
        used = int(chain.provider.make_request("eth_createAccessList", [call, "latest"])["gasUsed"], 16)
    except Exception:  # not every node has it; any answer but a number means "cannot say"
        return limit
    return min(used, limit) if used > 0 else limit


def _simulate(calls: list, head, limits: list[int] | None = None) -> list[dict] | None:
    """Each of `calls` ((method, args, value), sent in this order by the signer in
    the block after `head`, with these gas `limits`, else the block's) as the node
    runs them (`eth_simulateV1`): whether it passed, the gas it used, what it
    returned (a uint) or why it reverted. None when the node cannot simulate a
    sequence."""
    signer = bot.signer.address
    block = {
        "blockOverrides": {"number": hex(head["number"] + 1), "time": hex(head["timestamp"] + 1)},
        "calls": [
            {"from": signer, "to": method.contract.address, "data": to_hex(method.encode_input(*args)), "value": hex(v)}
            for method, args, v in calls
        ],
    }
    for call, limit in zip(block["calls"], limits or [], strict=False):
        call["gas"] = hex(limit)
    try:
        # On `head` itself: a block that came meanwhile would make the overrides go back in time.
        simulated = chain.provider.make_request("eth_simulateV1", [{"blockStateCalls": [block]}, hex(head["number"])])
        [simulated] = simulated
    except Exception as error:  # not every node has it (nor every RPC provider)
        logger.info(f"keeper: the node cannot simulate a sequence ({error}); one batch a block")
        return None
    outcomes = []
    for call in simulated["calls"]:
        data = call.get("returnData") or "0x"
        ok = int(call["status"], 16) == 1
        outcomes.append(
            {
                "ok": ok,
                "gas": int(call["gasUsed"], 16),
                "returned": int(data, 16) if ok and len(data) > 2 else 0,
                "error": None if ok else (call.get("error") or {}).get("message", "reverted"),
            }
        )
    return outcomes


def _send(txn, gas: int):
    """Send `txn` with a 30% margin on its `gas` estimate and wait (see `_send_all`)."""
    txn.gas_limit = gas * 13 // 10
    return _send_all([txn])[0]


def _send_all(txns: list) -> list:
    """Send `txns` (consecutive nonces, gas limits set) back to back, then wait for
    each in turn; one still pending after the stuck time is replaced (same nonce,
    fees +25%). Each one's receipt, or None when it lost a race (reverted on-chain)
    or never got mined."""
    web3 = chain.provider.web3
    sent: list[list] = []
    for txn in txns:
        try:
            sent.append([web3.eth.send_raw_transaction(bot.signer.sign_transaction(txn).serialize_transaction())])
        except ValueError as error:  # the node took the ones before: wait for those, book what they cost
            if not sent:
                raise
            logger.warning(f"keeper: the node refused transaction {len(sent) + 1} of {len(txns)} ({error})")
            break
    receipts = [_confirmed(txn, hashes) for txn, hashes in zip(txns, sent, strict=False)]
    return receipts + [None] * (len(txns) - len(sent))


def _confirmed(txn, hashes: list):
    """The receipt of `txn` (sent as `hashes`), replacing it while it is stuck."""
    web3 = chain.provider.web3
    stuck_after = float(os.environ.get("INVERSE_KEEPER_STUCK_AFTER") or 60)
    for replacements in range(6):
        receipt = _mined(hashes, stuck_after)
        if receipt is not None:
            break
        if replacements == 5:
            logger.warning(f"keeper: nonce {txn.nonce} still pending after replacements; waiting for it")
            return None
        old = getattr(txn, "max_priority_fee", None)
        if old is not None:
            txn.max_priority_fee = old * 5 // 4 + 1
            txn.max_fee = txn.max_fee * 5 // 4 + 1
        else:
            txn.gas_price = txn.gas_price * 5 // 4 + 1
        logger.warning(
            f"keeper: transaction {web3.to_hex(hashes[-1])} (nonce {txn.nonce}) pending for {stuck_after:.0f} s; "
            f"replacing it with a 25% higher fee"
        )
        try:
            hashes.append(web3.eth.send_raw_transaction(bot.signer.sign_transaction(txn).serialize_transaction()))
        except ValueError as error:  # "nonce too low": an earlier version got mined meanwhile
            logger.info(f"keeper: replacement refused ({error}); the earlier one is in")
    if receipt["status"] != 1:
        _spend(receipt)
        txn_hash = web3.to_hex(receipt["transactionHash"])
        logger.info(f"keeper: lost the race (transaction {txn_hash} reverted); not resending")
        return None
    return receipt


def _mined(hashes: list, timeout: float):
    """The receipt of whichever of `hashes` got mined, waiting up to `timeout` s
    (looking often at first: a dev node mines at once, a live chain in seconds)."""
    web3 = chain.provider.web3
    deadline = time.monotonic() + timeout
    delay = 0.002
    while True:
        for tx_hash in hashes:
            try:
                receipt = web3.eth.get_transaction_receipt(tx_hash)
            except Exception:  # not mined (web3 raises TransactionNotFound) or an RPC hiccup
                continue
            if receipt is not None:
                return receipt
        if time.monotonic() > deadline:
            return None
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def _events(receipt, contract, name: str) -> list:
    """`name` events of `contract` in a bare web3 receipt (ape's receipt object costs
    more round trips than the keeper can spare in a block)."""
    abi = getattr(contract, name).abi
    logs = [dict(log) for log in receipt["logs"] if log["address"] == contract.address]
    return list(chain.provider.network.ecosystem.decode_logs(logs, abi))


def _spend(receipt) -> int:
    """Gas paid by a mined transaction of ours (wei), booked as a loss until `_credit`."""
    spent = receipt["gasUsed"] * (receipt.get("effectiveGasPrice") or 0)
    bot.state.gas_spent += spent
    bot.state.losses.record(_head_time(), spent)
    return spent


def _credit(market: Market, earned: int) -> None:
    """What a transaction earned (collateral), valued in the gas token, against its gas."""
    if not earned:
        return
    try:
        value = _in_gas_token(market, earned)
    except ValueError as error:  # no price now: book nothing, the loss stands (the safe side)
        logger.warning(f"keeper: cannot value what {market.address} paid ({error}); counted as 0")
        return
    bot.state.losses.record(_head_time(), -value)


def _totals() -> str:
    earned = ", ".join(
        f"{m.address[:10]}: fees {fmt_units(m.fees, m.decimals, 2)} + bounties {fmt_units(m.bounties, m.decimals, 2)}"
        for m in bot.state.markets
    )
    symbol, ledger = bot.state.symbol, bot.state.losses
    text = f"earned so far {earned}; gas spent {fmt_wad(bot.state.gas_spent, 6)} {symbol}"
    if ledger.budget:
        text += f"; {_day_result(ledger.lost(_head_time()))} (daily loss budget {_eth(ledger.budget)})"
    return text


def _eth(wei: int) -> str:
    return f"{fmt_wad(wei, 6)} {bot.state.symbol}"


def _day_result(lost: int) -> str:
    if lost == 0:
        return "nothing lost in the last 24 h"
    return f"lost {_eth(lost)} in the last 24 h" if lost > 0 else f"gained {_eth(-lost)} in the last 24 h"


def _native_price(market: Market) -> int:
    """Collateral per gas token (WAD): the native feed, the fixed price, or the pool's oracle."""
    if bot.state.native_feed:
        latest, scale = bot.state.native_feed
        answer = latest()[1]
        if answer <= 0:
            raise ValueError(f"INVERSE_KEEPER_NATIVE_FEED answers {answer}")
        return answer * scale
    if price := os.environ.get("INVERSE_KEEPER_NATIVE_PRICE"):
        return int(price)
    if market.pull:  # the price on-chain may be minutes old on a quiet pull market; Hermes's is not
        return market.pull.price()
    return market.oracle_price()


def _in_gas_token(market: Market, amount: int) -> int:
    """`amount` of the market's collateral in wei of the gas token."""
    if amount == 0:
        return 0
    return amount * 10 ** (18 - market.decimals) * WAD // _native_price(market)


def _worth_it(market: Market, txn, gas: int, reward, own: int | None, what: str, now: int) -> bool:
    """Whether to send `txn` (estimated at `gas`): it pays (its gas against
    `reward()`, collateral, read only when it matters), or its loss fits the daily
    budget. `own`: what this transaction itself earns, when `reward()` also counts
    the bounty of the rebalance it unblocks."""
    ledger = bot.state.losses
    # What the node says gas costs now (base fee plus tip), not a local default.
    gas_price = chain.provider.web3.eth.gas_price
    if gas_price == 0:
        return True
    unpriced = ""
    try:
        value = _in_gas_token(market, reward())
        own_value = value if own is None else _in_gas_token(market, own)
    except ValueError as error:  # no price now (a stale oracle while a void order waits): worth 0
        value = own_value = 0
        unpriced = f" (no price to value it: {_revert_reason(error)})"
    if gas * gas_price > value:  # the estimate is a limit: price what it will use
        gas = _gas_used(txn, gas)
    cost = gas * gas_price
    if cost <= value:
        _refusals.pop(market.address, None)
        return True
    loss = cost - own_value
    gas_cost = f"{gas:,} gas at {gas_price / GWEI:,.2f} gwei = {_eth(cost)}"
    figures = f"{gas_cost}, earns {_eth(value)}{unpriced}"
    if ledger.budget is None:  # INVERSE_KEEPER_ALWAYS=1
        logger.info(f"keeper: {market.address} {what}: sending at a loss of {_eth(loss)} ({figures}; no cap)")
        return True
    lost = ledger.lost(now)
    if ledger.budget and lost + loss <= ledger.budget:
        _refusals.pop(market.address, None)
        logger.info(
            f"keeper: {market.address} {what}: sending at a loss of {_eth(loss)} ({figures}); within the daily "
            f"loss budget: {_day_result(lost)} before it, budget {_eth(ledger.budget)}"
        )
        return True
    if not ledger.budget:
        _refuse(
            market,
            ("unprofitable", what),
            f"keeper: {market.address} {what}, but gas ({gas_cost}) costs more than it pays "
            f"({_eth(value)}{unpriced}); "
            "not sending (INVERSE_KEEPER_MAX_DAILY_LOSS sets a daily budget to keep markets on schedule at a loss)",
        )
    else:
        _refuse(
            market,
            ("budget", what),
            f"keeper: {market.address} {what}, at a loss of {_eth(loss)} ({figures}); not sending: daily loss "
            f"budget spent ({_day_result(lost)}, budget {_eth(ledger.budget)}); it sends again when that pays, "
            "or as the losses age past 24 h",
        )
    return False


def _refuse(market: Market, kind: tuple, message: str) -> None:
    """Log a refusal when its kind changes, else every REFUSAL_LOG_EVERY seconds."""
    last = _refusals.get(market.address)
    if last is None or last[0] != kind or time.monotonic() - last[1] > REFUSAL_LOG_EVERY:
        if kind[0] == "budget":
            logger.warning(message)
        else:
            logger.info(message)
        _refusals[market.address] = (kind, time.monotonic())


def _head_time() -> int:
    return chain.provider.web3.eth.get_block("latest")["timestamp"]


def _waiting_for_unknown_transaction(address: str) -> bool:
    """A pending transaction this run did not send (one from before a restart):
    wait for it rather than send a second one beside it."""
    web3 = chain.provider.web3
    pending = web3.eth.get_transaction_count(address, "pending")
    latest = web3.eth.get_transaction_count(address, "latest")
    if pending > latest:
        logger.info("keeper: a previous transaction is still pending; waiting")
        return True
    return False


def _note_skip(market: Market) -> None:
    """Log once why a pool is not due when the reason is a bad oracle."""
    try:
        market.oracle_price()
        reason = "ok"
    except ValueError as error:
        reason = _revert_reason(error)
    if _last_skip.get(market.address) != reason:
        if reason != "ok":
            logger.warning(f"keeper: {market.address} cannot rebalance: {reason}; waiting for the oracle")
        elif market.address in _last_skip:
            logger.info(f"keeper: {market.address} oracle back")
        _last_skip[market.address] = reason


def _revert_reason(error: Exception) -> str:
    """The revert string in a bare call's error ("oracle: stale price")."""
    cause = error.__cause__ or error
    message = getattr(cause, "message", None) or str(cause)
    return message.removeprefix("execution reverted: ")


def _retry(call, attempts: int = 3, delay: float = 0.5):
    """RPC calls retried with backoff; contract reverts are answers, not errors."""
    for attempt in range(attempts):
        try:
            return call()
        except (ContractLogicError, ValueError):
            raise
        except (ApeException, OSError, ConnectionError, Web3Exception) as error:
            if attempt == attempts - 1:
                raise
            logger.warning(f"keeper: RPC error ({error}); retrying")
            time.sleep(delay * 2**attempt)
