"""What a market looks like right now, read from its views: for the CLI, the demo and the keeper."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from ape import chain
from ape.exceptions import ContractLogicError

from . import wallet
from .constants import ORDER_PARAMETER_NAMES, REASON_THRESHOLD, REASON_TIME, WAD


@dataclass
class MarketStatus:
    leverage: int
    price: int | None  # None while the oracle has no valid price
    oracle_error: str | None
    nav: int | None
    reference_price: int
    reference_nav: int
    last_rebalance: int
    next_scheduled: int
    threshold: int
    due: bool
    total_assets: int
    inverse_value: int | None
    lp_value: int | None
    max_mint: int | None
    total_supply: int
    paused: bool
    is_shutdown: bool
    collateral_decimals: int
    settle_fee: int
    min_delay: int
    max_wait: int
    min_order: int
    pending_orders: int
    escrowed: int  # collateral held for pending mints and LP deposits
    total_claimable: int
    # A queued parameter change: what changes (name -> (now, queued)), and from when.
    queued_changes: dict[str, tuple[int, int]]
    parameters_ready_at: int
    block: int  # every view above was read at this block

    def due_reasons(self, now: int) -> str:
        """Why a rebalance is due (or when it will be)."""
        if self.is_shutdown:
            return "never: shut down"
        if self.price is None:
            return f"unknown: {self.oracle_error}"
        reasons = []
        if now >= self.next_scheduled:
            reasons.append("interval elapsed")
        if abs(self.price - self.reference_price) * WAD >= self.threshold * self.reference_price:
            reasons.append("price past threshold")
        if reasons:
            return "due now: " + ", ".join(reasons)
        return f"in {fmt_duration(self.next_scheduled - now)}, or on a {fmt_wad(self.threshold * 100, 2)}% move"

    def why_not_due(self, now: int) -> str:
        """What a rebalance waits for, when it is not due."""
        if self.is_shutdown:
            return "the market is shut down: it never rebalances again"
        if self.price is None:
            return f"the oracle has no valid price ({self.oracle_error}); it rebalances once it has one"
        move = (self.price - self.reference_price) * 100 * WAD // self.reference_price
        threshold = fmt_wad(self.threshold * 100, 2)
        return (
            f"the price {fmt_wad(self.price, 2)} is {'+' if move >= 0 else '-'}{fmt_wad(abs(move), 2)}% from the "
            f"last rebalance's {fmt_wad(self.reference_price, 2)} (it rebalances on a {threshold}% "
            f"move), and the next scheduled rebalance is at {fmt_time(self.next_scheduled)} "
            f"(in {fmt_duration(self.next_scheduled - now)})"
        )


def read_parameters(pool, block_id: int | None = None) -> dict:
    """The parameters in force (at `block_id`, default the latest), as the pool's
    `Parameters` struct (what `queue_parameters` takes)."""
    return _as_dict(pool.parameters(block_id=block_id))


def _as_dict(params) -> dict:
    return {name: getattr(params, name) for name in ORDER_PARAMETER_NAMES}


def queued_changes(pool, now: dict, block_id: int | None = None) -> tuple[dict[str, tuple[int, int]], int]:
    """The queued parameter change against the parameters in force (`now`):
    {name: (in force, queued)} for each value it changes, and when it may apply
    (the first rebalance at a round from then applies it); ({}, 0) when none is queued."""
    ready_at = pool.parameters_ready_at(block_id=block_id)
    if not ready_at:
        return {}, 0
    queued = _as_dict(pool.queued_parameters(block_id=block_id))
    return {name: (now[name], queued[name]) for name in ORDER_PARAMETER_NAMES if now[name] != queued[name]}, ready_at


def reason_names(reason: int) -> str:
    names = []
    if reason & REASON_TIME:
        names.append("time")
    if reason & REASON_THRESHOLD:
        names.append("threshold")
    return "+".join(names) or "none"


def fmt_wad(value: int | None, places: int = 4) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(value) / WAD:,.{places}f}"


def fmt_units(value: int | None, decimals: int, places: int = 2) -> str:
    if value is None:
        return "n/a"
    return f"{Decimal(value) / 10**decimals:,.{places}f}"


def fmt_duration(seconds: int) -> str:
    """`3960` -> "1 h 6 min"; `120` -> "2 min"; `45` -> "45 s"."""
    seconds = max(int(seconds), 0)
    if seconds < 60:
        return f"{seconds} s"
    hours, minutes = divmod(round(seconds / 60), 60)
    if not hours:
        return f"{minutes} min"
    return f"{hours} h {minutes} min" if minutes else f"{hours} h"


def fmt_time(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _try(view):
    try:
        return view(), None
    except ContractLogicError as error:
        return None, str(error.message or error)


def read_status(pool, collateral, book) -> MarketStatus:
    """`pool`'s state, with its order `book`'s queue, all read at the head block."""
    # Every view from one block: on a fast clock (the playground's hour every few
    # seconds) the price is stale at the block that moves the clock until the next
    # brings a new one, so a view read at "latest" after a fresh price can revert.
    block = chain.blocks.head.number
    price, error = _try(lambda: pool.oracle_price(block_id=block))
    priced = price is not None or pool.is_shutdown(block_id=block)
    lens = wallet.lens(pool)
    last = pool.last_rebalance(block_id=block)
    params = read_parameters(pool, block)
    changes, ready_at = queued_changes(pool, params, block)
    return MarketStatus(
        leverage=pool.leverage(),
        price=price,
        oracle_error=error,
        nav=pool.nav(block_id=block) if priced else None,
        reference_price=pool.reference_price(block_id=block),
        reference_nav=pool.reference_nav(block_id=block),
        last_rebalance=last,
        next_scheduled=last + params["interval"],
        threshold=params["threshold"],
        due=pool.rebalance_due(block_id=block),
        total_assets=pool.total_assets(block_id=block),
        inverse_value=lens.inverse_value(block_id=block) if priced else None,
        lp_value=lens.lp_value(block_id=block) if priced else None,
        max_mint=lens.max_mint(block_id=block) if priced else None,
        total_supply=pool.totalSupply(block_id=block),
        paused=pool.paused(block_id=block),
        is_shutdown=pool.is_shutdown(block_id=block),
        collateral_decimals=collateral.decimals(),
        settle_fee=params["settle_fee"],
        min_delay=params["min_delay"],
        max_wait=params["max_wait"],
        min_order=params["min_order"],
        pending_orders=book.pending_orders(block_id=block) + book.held_deposits(block_id=block)[0],
        escrowed=book.escrowed(block_id=block),
        total_claimable=pool.total_claimable(block_id=block),
        queued_changes=changes,
        parameters_ready_at=ready_at,
        block=block,
    )


def format_status(name: str, status: MarketStatus) -> str:
    d = status.collateral_decimals
    state = "shut down" if status.is_shutdown else ("paused" if status.paused else "open")
    lines = [
        f"{name}  (-{fmt_wad(status.leverage, 2)}x, {state})",
        f"  oracle price     {fmt_wad(status.price, 2) if status.price else 'none: ' + str(status.oracle_error)}",
        f"  NAV              {fmt_wad(status.nav, 6)}",
        f"  reference        price {fmt_wad(status.reference_price, 2)}, NAV {fmt_wad(status.reference_nav, 6)}",
        f"  next rebalance   {status.due_reasons(chain.blocks.head.timestamp)}",
        f"  total assets     {fmt_units(status.total_assets, d)}",
        f"  inverse value    {fmt_units(status.inverse_value, d)}  ({fmt_wad(status.total_supply, 4)} tokens)",
        f"  LP value         {fmt_units(status.lp_value, d)}",
        f"  mint capacity    {fmt_units(status.max_mint, d)}",
        f"  orders           {status.pending_orders} pending, {fmt_units(status.escrowed, d)} collateral in escrow, "
        f"{fmt_units(status.total_claimable, d)} claimable",
        f"  order terms      settle fee {fmt_units(status.settle_fee, d)}, min order {fmt_units(status.min_order, d)}, "
        f"min delay {fmt_duration(status.min_delay)}, void after {fmt_duration(status.max_wait)} more",
    ]
    if status.parameters_ready_at:
        changes = ", ".join(f"{name} {now} -> {queued}" for name, (now, queued) in status.queued_changes.items())
        lines.append(
            f"  queued change    {changes or 'none (same values)'}; applies at the first rebalance from "
            f"{fmt_time(status.parameters_ready_at)}"
        )
    return "\n".join(lines)
