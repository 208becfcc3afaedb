"""Reference models of a pool, in pure Python with the contracts' integer math.

Every number they produce equals the contracts' to the wei: the tests hold the
contracts to them, and the simulator and the demo use them to explain what they
see. Operations raise `Revert` with the contract's own reason where the contract
would revert, and change nothing in that case (callers work on a `copy()` when
they want to try one).

`PoolModel` is the market that settles every order at the next price
(`InversePool.vy` with its `OrderBook.vy` and `ChainlinkOracle.vy` over a feed,
`OracleModel`).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field, replace

from .constants import (
    BOUNTY_BUDGET,
    BOUNTY_PERIOD,
    BOUNTY_RESERVE,
    DEAD_FEED_GRACE,
    DEFAULT_PARAMETER_DELAY,
    DUST_SUPPLY,
    MAX_INTERVAL,
    MAX_KEEPER_BOUNTY_UNITS,
    MAX_MANAGEMENT_FEE,
    MAX_MAX_WAIT,
    MAX_MIN_BACKING,
    MAX_MIN_DELAY,
    MAX_MIN_ORDER_UNITS,
    MAX_PRICE,
    MAX_SETTLE_FEE_UNITS,
    MAX_THRESHOLD,
    MAX_TRADE_FEE,
    MIN_INTERVAL,
    MIN_MAX_WAIT,
    MIN_MIN_BACKING,
    MIN_MIN_DELAY,
    MIN_PULL_MIN_DELAY,
    MIN_THRESHOLD,
    ORDER_LP_DEPOSIT,
    ORDER_LP_WITHDRAW,
    ORDER_MINT,
    ORDER_PARAMETER_NAMES,
    ORDER_REDEEM,
    ORDER_SHUTDOWN,
    OUTCOME_FILLED,
    OUTCOME_PARTIAL,
    OUTCOME_REFUNDED,
    OUTCOME_VOID,
    REASON_THRESHOLD,
    REASON_TIME,
    ROUND_FILL,
    ROUND_VOID,
    ROUND_WAIT,
    WAD,
    YEAR,
)
from .orders import MAX_HANDED_BACK, Order


class Revert(Exception):
    """The contract would revert with this reason."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class Overflow(Revert):
    """A uint256 intermediate left [0, 2**256): the contract reverts (no reason)."""

    def __init__(self, value: int):
        super().__init__("arithmetic overflow")
        self.value = value


UINT256_LIMIT = 2**256


def u256(x: int) -> int:
    """`x` if a uint256 can hold it; else the contract's arithmetic revert."""
    if x < 0 or x >= UINT256_LIMIT:
        raise Overflow(x)
    return x


def ceil_div(x: int, y: int) -> int:
    return u256(u256(x + y) - 1) // y


def fee_of(amount: int, rate: int) -> int:
    """Fees are owed by the user: rounded up."""
    return ceil_div(u256(amount * rate), WAD)


def accrued(nav: int, rate: int, seconds: int) -> int:
    """`market_math.accrued`: `nav` less the management fee at `rate` a year over `seconds`,
    rounded against holders."""
    return u256(nav * (WAD - min(ceil_div(u256(rate * seconds), YEAR), WAD))) // WAD


def keeper_bounty_paid(keeper_bounty: int, budget: int, lp_value: int, time_only: bool) -> tuple[int, int]:
    """`_rebalance`'s bounty out of keepers' `budget` (seconds of accrual, already
    capped at BOUNTY_BUDGET): a bounty per BOUNTY_PERIOD of it, at most one bounty
    and never more than the LP value; a rebalance due by time alone draws only on
    what is above BOUNTY_RESERVE. Returns (bounty, budget left)."""
    spendable = max(budget - BOUNTY_RESERVE, 0) if time_only else budget
    bounty = min(keeper_bounty * min(spendable, BOUNTY_PERIOD) // BOUNTY_PERIOD, lp_value)
    if keeper_bounty:
        budget -= ceil_div(bounty * BOUNTY_PERIOD, keeper_bounty)  # what it used, rounded up
    return bounty, budget


def raw_nav(price: int, ref_price: int, ref_nav: int, leverage: int) -> int:
    """n0 * max(0, 1 - L (P - P0) / P0); the move rounded against holders, the NAV down."""
    if price >= ref_price:
        loss = ceil_div(u256(leverage * (price - ref_price)), ref_price)
        if loss >= WAD:
            return 0
        return u256(ref_nav * (WAD - loss)) // WAD
    gain = u256(leverage * (ref_price - price)) // ref_price
    return u256(ref_nav * u256(WAD + gain)) // WAD


def lp_deposit_shares(supply: int, added: int, lp_value: int, virtual: int) -> tuple[int, int]:
    """`LpToken.deposit_shares`: (shares, rescale bits) for a deposit adding `added`
    to an LP value of `lp_value`, with `supply` LP shares out. When a share is worth
    under 2**-20 of its first price (supply >> 20 > par, par = virtual * (lp_value
    + 1)) the supply is first divided by the least 2**bits that brings it to par or
    below. Shares past the 2**120 cap: (0, 0)."""
    bits = 0
    par = u256(virtual * u256(lp_value + 1))
    if supply >> LP_FLOOR_BITS > par:
        for step in (64, 32, 16, 8, 4, 2, 1):
            if supply >> (bits + step) > par:
                bits += step
        bits += 1
        supply >>= bits
    shares = u256(added * u256(supply + virtual)) // u256(lp_value + 1)
    if shares > MAX_LP_SUPPLY - supply:
        return 0, 0
    return shares, bits


@dataclass
class Market:
    """What one operation sees: the contract's `Market` struct."""

    assets: int
    supply: int
    price: int
    raw_nav: int
    nav: int


def check_parameters(params: dict, collateral_decimals: int, leverage: int | None = None, pull: bool = False) -> None:
    """The contract's bounds, with its revert reasons; the order parameters and
    the threshold's bound of 0.5 / L where given; `pull`: a pull market's."""
    unit = 10**collateral_decimals
    if not MIN_INTERVAL <= params["interval"] <= MAX_INTERVAL:
        raise Revert("pool: interval out of bounds")
    if not MIN_THRESHOLD <= params["threshold"] <= MAX_THRESHOLD:
        raise Revert("pool: threshold out of bounds")
    if leverage is not None and params["threshold"] * leverage > WAD * WAD // 2:
        raise Revert("pool: threshold out of bounds")
    if params["mint_fee"] > MAX_TRADE_FEE:
        raise Revert("pool: mint fee out of bounds")
    if params["redeem_fee"] > MAX_TRADE_FEE:
        raise Revert("pool: redeem fee out of bounds")
    if params["management_fee"] > MAX_MANAGEMENT_FEE:
        raise Revert("pool: management fee above 10%")
    if params["keeper_bounty"] > MAX_KEEPER_BOUNTY_UNITS * unit:
        raise Revert("pool: keeper bounty too high")
    if not MIN_MIN_BACKING <= params["min_backing"] <= MAX_MIN_BACKING:
        raise Revert("pool: min backing out of bounds")
    if "settle_fee" not in params:
        return
    if params["settle_fee"] > MAX_SETTLE_FEE_UNITS * unit:
        raise Revert("pool: settle fee out of bounds")
    if not (MIN_PULL_MIN_DELAY if pull else MIN_MIN_DELAY) <= params["min_delay"] <= MAX_MIN_DELAY:
        raise Revert("pool: min delay out of bounds")
    if not MIN_MAX_WAIT <= params["max_wait"] <= MAX_MAX_WAIT:
        raise Revert("pool: max wait out of bounds")
    if params["min_order"] > MAX_MIN_ORDER_UNITS * unit:
        raise Revert("pool: min order out of bounds")


# ==================================================================== v2: orders at the next price

PHASE_SHIFT = 64
# A next-phase proof's round id: the order's phase's last round << 80 | a round of the next.
NEXT_PHASE_SHIFT = 80
ORDER_PARAMETERS = ORDER_PARAMETER_NAMES
# The order book's bounds (OrderBook.vy).
MAX_ESCROW = 2**112 - 1
MAX_MIN_OUT = 2**128 - 1
# The LP token's share math (LpToken.vy): the cap on its supply, the rescale
# floor (a share worth under 2**-20 of its first price) and how many rescales a
# pending withdrawal's escrowed shares are followed through.
MAX_LP_SUPPLY = 2**120
LP_FLOOR_BITS = 20
LP_MAX_RESCALES = 8
ZERO_ADDRESS = "0x" + "00" * 20


@dataclass(frozen=True)
class FeedRound:
    answer: int
    started_at: int
    updated_at: int


@dataclass(frozen=True)
class Pricing:
    """How the book priced an order (`IOracle.Pricing`)."""

    outcome: int
    round_id: int
    price: int
    at: int


@dataclass
class OracleModel:
    """A proxy-shaped Chainlink feed (`MockAggregator.vy`) read through the
    adapter (`ChainlinkOracle.vy`, no sequencer feed). Round ids are
    `phase << 64 | aggregator round`."""

    feed_decimals: int
    max_age: int
    phase: int = 1
    latest_round: int = 0
    rounds: dict[int, FeedRound] = field(default_factory=dict)
    phase_latest: dict[int, int] = field(default_factory=dict)
    # The feed reverts every read (paused or deprecated): no phase, no rounds.
    reverting: bool = False

    @property
    def to_wad(self) -> int:
        return 10 ** (18 - self.feed_decimals)

    # ------------------------------------------------------------ the feed

    def _set_round(self, round_id: int, answer: int, started_at: int, updated_at: int) -> None:
        self.rounds[round_id] = FeedRound(answer, started_at, updated_at)
        self.latest_round = round_id
        self.phase_latest[round_id >> PHASE_SHIFT] = round_id

    def push_round(self, answer: int, started_at: int, updated_at: int) -> int:
        """The current phase's next round (`set_answer` is started = updated = now)."""
        last = self.phase_latest.get(self.phase, 0)
        round_id = last + 1 if last else (self.phase << PHASE_SHIFT) | 1
        self._set_round(round_id, answer, started_at, updated_at)
        return round_id

    def new_phase(self, answer: int, now: int) -> int:
        self.phase += 1
        round_id = (self.phase << PHASE_SHIFT) | 1
        self._set_round(round_id, answer, now, now)
        return round_id

    def _exists(self, round_id: int, now: int) -> FeedRound | None:
        if self.reverting:
            return None
        r = self.rounds.get(round_id)
        if r is None or r.updated_at == 0 or r.updated_at > now:
            return None
        return r

    # ------------------------------------------------------------ the adapter

    def latest(self, now: int) -> tuple[int, int, int]:
        """(price WAD, updatedAt, round id), or the adapter's revert."""
        if self.reverting:
            raise Revert("oracle: feed unavailable")
        r = self.rounds[self.latest_round]
        if r.answer <= 0:
            raise Revert("oracle: non-positive price")
        if r.answer > MAX_PRICE // self.to_wad:
            raise Revert("oracle: price too large")
        if r.updated_at == 0:
            raise Revert("oracle: incomplete round")
        if r.updated_at > now:
            raise Revert("oracle: future timestamp")
        if now - r.updated_at > self.max_age:
            raise Revert("oracle: stale price")
        return r.answer * self.to_wad, r.updated_at, self.latest_round

    def current_phase(self) -> int:
        """The phase an order records: 0 when the feed cannot say (it reverts)."""
        return 0 if self.reverting else self.phase

    def price(self, now: int) -> int | None:
        try:
            return self.latest(now)[0]
        except Revert:
            return None

    @staticmethod
    def _qualifies(r: FeedRound, not_before: int, requested_at: int) -> bool:
        return r.updated_at >= not_before and (r.started_at == 0 or r.started_at >= requested_at)

    def _valid(self, r: FeedRound | None) -> tuple[int, int]:
        """A round's price (WAD) and updatedAt, or (0, 0) if none or invalid on its own data."""
        if r is None or r.answer <= 0 or r.answer > MAX_PRICE // self.to_wad:
            return 0, 0
        return r.answer * self.to_wad, r.updated_at

    def _priced(
        self, round_id: int, r: FeedRound, expires_at: int, now: int, before: FeedRound | None = None
    ) -> tuple[int, int, int]:
        """The order's round `round_id` (data `r`): FILL at its price, or VOID at the
        last valid round before it (the round before, if it exists; `before` when
        `round_id` is its phase's first, on a next-phase proof)."""
        price, at = self._valid(r)
        if price != 0 and at <= expires_at:
            return ROUND_FILL, price, at
        previous = before
        if round_id & (2**PHASE_SHIFT - 1) > 1:
            previous = self._exists(round_id - 1, now)
        return (ROUND_VOID, *self._valid(previous))

    def order_round(
        self, round_id: int, phase: int, not_before: int, requested_at: int, expires_at: int, now: int
    ) -> tuple[int, int, int]:
        """`ChainlinkOracle.order_round`: (outcome, price, updated_at) for the
        round a settler names, or its revert. On VOID the price and time of the
        last valid round before the order's (0, 0 if none or invalid). A
        next-phase proof (`last << 80 | round`) names the order's phase's last
        round and a round of the next one, where its round is once its own
        phase ended without it."""
        before, next_phase = None, round_id >> NEXT_PHASE_SHIFT != 0
        if next_phase:
            last, round_id = round_id >> NEXT_PHASE_SHIFT, round_id & (2**NEXT_PHASE_SHIFT - 1)
            if phase == 0 or last >> PHASE_SHIFT != phase:
                raise Revert("oracle: round not in the order's phase")
            if not self._is_last_round(last, phase, expires_at, now):
                return ROUND_WAIT, 0, 0
            phase += 1
            if last & (2**PHASE_SHIFT - 1):
                before = self._exists(last, now)
                if before is None or self._qualifies(before, not_before, requested_at):
                    raise Revert("oracle: not the order's round")
        if round_id >> PHASE_SHIFT != phase:
            raise Revert("oracle: round not in the order's phase")
        aggregator_round = round_id & (2**PHASE_SHIFT - 1)
        r = None
        if aggregator_round != 0:
            r = self._exists(round_id, now)
            if r is None:
                return ROUND_WAIT, 0, 0
        if aggregator_round == 0 or not self._qualifies(r, not_before, requested_at):
            if now > expires_at and self._is_last_round(round_id, phase, expires_at, now):
                if not next_phase and phase != 0 and self._latest_phase() > phase:
                    raise Revert("oracle: its phase ended: prove it in the next one")
                return (ROUND_VOID, *self._valid(r if aggregator_round != 0 else before))
            return ROUND_WAIT, 0, 0
        if aggregator_round > 1:
            previous = self._exists(round_id - 1, now)
            if previous is not None and self._qualifies(previous, not_before, requested_at):
                raise Revert("oracle: not the order's round")
        return self._priced(round_id, r, expires_at, now, before)

    def _latest_phase(self) -> int:
        """The proxy's current phase (`ChainlinkOracle._latest_phase`); 0 if it cannot say."""
        return self.current_phase()

    def _is_last_round(self, round_id: int, phase: int, expires_at: int, now: int) -> bool:
        """The adapter's proof that no round follows `round_id` in its phase: the
        feed's latest while the phase is current, else the next round missing; a
        feed that reverts proves nothing until DEAD_FEED_GRACE after the expiry."""
        if phase == 0:
            return True
        readable = not self.reverting
        if readable and self.latest_round >> PHASE_SHIFT == phase:
            if self.latest_round == round_id:
                return True
            if self._exists(self.latest_round, now) is not None:
                return False
            readable = False  # an unfinished latest round
        if not readable and now <= expires_at + DEAD_FEED_GRACE:
            return False
        return self._exists(round_id + 1, now) is None

    def own_round(self, order: Order, now: int) -> tuple[int, int, int]:
        """What an order's round is, from the feed's history alone, whatever
        round a settler names: the phase's first qualifying round (FILL at its
        price, or VOID if it is invalid or came after the expiry); once its phase
        ended without one, the next phase's first; none yet: VOID once past the
        expiry (at the last valid round before it), else WAIT. An order of phase
        0 has no round. While the feed reverts its rounds cannot be read: WAIT
        until DEAD_FEED_GRACE after the expiry."""
        if self.reverting and order.phase and now <= order.expires_at + DEAD_FEED_GRACE:
            return ROUND_WAIT, 0, 0
        phase, before = order.phase, None
        while True:
            base = phase << PHASE_SHIFT
            last = self.phase_latest.get(phase, base) if phase else base
            for round_id in range(base + 1, last + 1):
                r = self._exists(round_id, now)
                if r is not None and self._qualifies(r, order.not_before, order.requested_at):
                    first = round_id == base + 1
                    return self._priced(round_id, r, order.expires_at, now, before if first else None)
            # The last round that can be read (an unfinished latest round proves nothing yet).
            while last != base and self._exists(last, now) is None:
                if last == self.latest_round and now <= order.expires_at + DEAD_FEED_GRACE:
                    return ROUND_WAIT, 0, 0
                last -= 1
            ended = phase == order.phase and phase != 0 and self._latest_phase() > phase
            if not ended:
                break
            before, phase = self._exists(last, now) if last != base else None, phase + 1
        if now <= order.expires_at:
            return ROUND_WAIT, 0, 0
        return (ROUND_VOID, *self._valid(self._exists(last, now) if last != base else before))


@dataclass
class Settled:
    """One `OrderSettled` event."""

    order_id: int
    settler: str
    outcome: int
    round_id: int
    price: int
    nav: int
    filled: int
    out: int
    refunded: int
    settle_fee: int

    def amounts(self) -> tuple:
        """What the order got: the same whoever settles it and whenever."""
        return (self.outcome, self.price, self.nav, self.filled, self.out, self.refunded, self.settle_fee)


@dataclass
class PoolModel:
    """One market that settles orders at the next price: `InversePool.vy`, its
    `OrderBook.vy` (the queue and the escrow), its LP token, the collateral's
    balances and the oracle (`oracle`). Addresses are checksummed strings;
    `pool`, `lp_token` and `book` name the contracts."""

    leverage: int
    collateral_decimals: int
    oracle: OracleModel
    pool: str
    lp_token: str
    book: str
    owner: str
    guardian: str
    reference_price: int
    last_rebalance: int
    fee_time: int
    interval: int
    threshold: int
    mint_fee: int
    redeem_fee: int
    management_fee: int
    keeper_bounty: int
    min_backing: int
    settle_fee: int
    min_delay: int
    max_wait: int
    min_order: int
    parameter_delay: int = DEFAULT_PARAMETER_DELAY
    # The owner's queued change (a full parameter set) and when a rebalance may apply it (0: none).
    queued_parameters: dict = field(default_factory=dict)
    parameters_ready_at: int = 0
    bounty_budget: int = BOUNTY_RESERVE  # keepers' budget left at the last rebalance, in seconds
    reference_nav: int = WAD
    total_assets: int = 0
    paused: bool = False
    is_shutdown: bool = False
    shutdown_requested: bool = False
    # Token balances; the pool's own entries are the escrowed tokens and LP shares.
    balances: dict[str, int] = field(default_factory=dict)
    # LP shares as `balanceOf` reads them (a rescale divides them all at once here,
    # lazily in LpToken.vy: the same numbers).
    lp_balances: dict[str, int] = field(default_factory=dict)
    # The LP token's `totalSupply`: after a rescale it can pass the sum of balances
    # by less than a share per holder.
    lp_total_supply: int = 0
    # The LP token's rescales, oldest first: (block time, bits).
    lp_rescales: list[tuple[int, int]] = field(default_factory=list)
    collateral: dict[str, int] = field(default_factory=dict)
    claimable: dict[str, int] = field(default_factory=dict)
    total_claimable: int = 0
    # Receivers the collateral refuses (a blocklist): their payouts become claimable.
    refused: set[str] = field(default_factory=set)
    # The book's queue.
    head: int = 1
    tail: int = 1
    last_not_before: int = 0
    last_max_wait: int = 0
    escrowed: int = 0
    orders: dict[int, Order] = field(default_factory=dict)
    # LP deposits priced but held until their round's other orders settle (ids,
    # in the order they were held), and their round's pricing.
    held: list[int] = field(default_factory=list)
    held_pricing: Pricing | None = None

    # ------------------------------------------------------------ derived

    @property
    def value_scale(self) -> int:
        return 10 ** (36 - self.collateral_decimals)

    @property
    def lp_virtual_shares(self) -> int:
        return 10 ** (18 - self.collateral_decimals)

    @property
    def total_supply(self) -> int:
        return sum(self.balances.values())

    @property
    def lp_supply(self) -> int:
        return self.lp_total_supply

    @property
    def pending(self) -> list[Order]:
        """As `settle` takes them: the held deposits, then the queue from its head."""
        held = [replace(self.orders[i], held=True) for i in self.held[:MAX_HANDED_BACK]]
        return held + [self.orders[i] for i in range(self.head, self.tail)]

    def params(self) -> dict:
        return {name: getattr(self, name) for name in ORDER_PARAMETERS}

    def copy(self) -> PoolModel:
        return copy.deepcopy(self)

    # ------------------------------------------------------------ pricing

    def market(self, price: int, at: int) -> Market:
        """`_market`: the NAV moved from the reference and the management fee
        accrued to `at`, capped at A / S; the settled NAV after shutdown."""
        m = Market(self.total_assets, self.total_supply, price, self.reference_nav, 0)
        if not self.is_shutdown and price != 0:
            m.raw_nav = self._accrued(raw_nav(price, self.reference_price, m.raw_nav, self.leverage), at)
        m.nav = self._capped(m)
        return m

    def live_market(self, now: int) -> Market:
        """`_live_market`: the latest price (or the oracle's revert) unless shut down."""
        price = 0 if self.is_shutdown else self.oracle.latest(now)[0]
        return self.market(price, now)

    def _accrued(self, nav: int, at: int) -> int:
        if at <= self.fee_time:
            return nav
        return accrued(nav, self.management_fee, at - self.fee_time)

    def _capped(self, m: Market) -> int:
        if m.supply == 0:
            return m.raw_nav
        return min(m.raw_nav, u256(m.assets * self.value_scale) // m.supply)

    def _inverse_value(self, supply: int, nav: int) -> int:
        return ceil_div(u256(supply * nav), self.value_scale)

    def _redeem_amounts(self, shares: int, nav: int, fee_rate: int) -> tuple[int, int]:
        gross = u256(shares * nav) // self.value_scale
        fee = fee_of(gross, fee_rate)
        return u256(gross - fee), fee

    def _mint_capacity(self, m: Market, backing: int, fee_rate: int) -> int:
        inverse = self._inverse_value(m.supply, m.nav)
        surplus = u256(u256(m.assets - inverse) * WAD)
        required = u256(backing * inverse)
        if surplus <= required:
            return 0
        denominator = u256(u256(backing * (WAD - fee_rate)) - fee_rate * WAD)
        return u256(WAD * (surplus - required)) // denominator

    def _lp_withdraw_capacity(self, lp_value: int, inverse: int) -> int:
        if self.is_shutdown:
            return lp_value
        required = ceil_div(u256(self.min_backing * inverse), WAD)
        if lp_value <= required:
            return 0
        return lp_value - required

    def _lp_deposit_shares(self, m: Market, assets: int) -> tuple[int, int]:
        """(LP shares, rescale bits) for a deposit of `assets` (`lp_deposit_shares`)."""
        value_before = u256(m.assets - self._inverse_value(m.supply, m.nav))
        after = copy.copy(m)
        after.assets = u256(m.assets + assets)
        after.nav = self._capped(after)
        value_after = u256(after.assets - self._inverse_value(after.supply, after.nav))
        if value_after <= value_before:
            return 0, 0
        return lp_deposit_shares(self.lp_supply, value_after - value_before, value_before, self.lp_virtual_shares)

    def _lp_withdraw_assets(self, lp_value: int, lp_shares: int) -> int:
        return u256(lp_shares * u256(lp_value + 1)) // u256(self.lp_supply + self.lp_virtual_shares)

    def _lp_shares_for(self, lp_value: int, assets: int) -> int:
        """LP shares worth `assets`, rounded up (what a payment out of LP value burns)."""
        return ceil_div(u256(assets * u256(self.lp_supply + self.lp_virtual_shares)), lp_value + 1)

    def _lp_mint(self, receiver: str, lp_shares: int, bits: int, now: int) -> None:
        """`LpToken.mint`: the rescale the deposit was priced after, then the shares."""
        if bits:
            self.lp_balances = {a: b >> bits for a, b in self.lp_balances.items()}
            self.lp_total_supply >>= bits
            self.lp_rescales.append((now, bits))
        self.lp_total_supply += lp_shares
        self.lp_balances[receiver] = self.lp_balances.get(receiver, 0) + lp_shares

    def _lp_burn(self, lp_shares: int) -> None:
        """`LpToken.burn` of the pool's escrowed shares."""
        balance = self.lp_balances.get(self.pool, 0)
        if lp_shares > balance:
            raise Revert("erc20: burn amount exceeds balance")
        self.lp_balances[self.pool] = balance - lp_shares
        self.lp_total_supply -= lp_shares

    def lp_escrowed_now(self, amount: int, since: int) -> int:
        """`LpToken.escrowed_now`: LP shares escrowed at time `since`, divided by every
        rescale since (one in the request's own block came after it), followed
        through at most LP_MAX_RESCALES rescales (more make any balance 0)."""
        bits = 0
        newest_first = self.lp_rescales[::-1]
        for i in range(LP_MAX_RESCALES):
            if i == len(newest_first) or since > newest_first[i][0]:
                return amount >> bits
            bits += newest_first[i][1]
        return 0

    @staticmethod
    def _pro_rata(min_out: int, filled: int, amount: int) -> int:
        if filled == amount:
            return min_out
        return ceil_div(u256(min_out * filled), amount)

    # ------------------------------------------------------------ views

    def nav(self, now: int) -> int:
        return self.live_market(now).nav

    def inverse_value(self, now: int) -> int:
        m = self.live_market(now)
        return self._inverse_value(m.supply, m.nav)

    def lp_value(self, now: int) -> int:
        m = self.live_market(now)
        return u256(m.assets - self._inverse_value(m.supply, m.nav))

    def preview_mint(self, assets: int, now: int) -> int:
        m = self.live_market(now)
        if m.nav == 0:
            return 0
        return u256(u256(assets - fee_of(assets, self.mint_fee)) * self.value_scale) // m.nav

    def preview_redeem(self, shares: int, now: int) -> int:
        assets, _ = self._redeem_amounts(shares, self.live_market(now).nav, self.redeem_fee)
        return assets - min(assets, self.settle_fee)

    def max_mint(self, now: int) -> int:
        if self.paused or self.shutdown_requested:
            return 0
        m = self.live_market(now)
        if m.nav == 0 or m.nav != m.raw_nav:
            return 0
        capacity = self._mint_capacity(m, self.min_backing, self.mint_fee)
        return capacity - min(capacity, self.escrowed)

    def preview_lp_deposit(self, assets: int, now: int) -> int:
        return self._lp_deposit_shares(self.live_market(now), assets)[0]

    def preview_lp_withdraw(self, lp_shares: int, now: int) -> int:
        m = self.live_market(now)
        assets = self._lp_withdraw_assets(u256(m.assets - self._inverse_value(m.supply, m.nav)), lp_shares)
        return assets - min(assets, self.settle_fee)

    def max_lp_withdraw(self, now: int) -> int:
        m = self.live_market(now)
        inverse = self._inverse_value(m.supply, m.nav)
        return self._lp_withdraw_capacity(u256(m.assets - inverse), inverse)

    def due_reason(self, price: int, now: int) -> int:
        reason = 0
        if now >= self.last_rebalance + self.interval:
            reason = REASON_TIME
        move = abs(price - self.reference_price)
        if move * WAD >= self.threshold * self.reference_price:
            reason |= REASON_THRESHOLD
        return reason

    def _orders_due(self, updated_at: int, round_id: int) -> bool:
        """The oldest pending order may have its round out: rebalance must wait."""
        if self.held:
            return True  # a held deposit's round is out
        if self.head == self.tail:
            return False
        o = self.orders[self.head]
        return o.phase != round_id >> PHASE_SHIFT or updated_at >= o.not_before

    def rebalance_due(self, now: int) -> bool:
        if self.is_shutdown:
            return False
        try:
            price, updated_at, round_id = self.oracle.latest(now)
        except Revert:
            return False
        if self._orders_due(updated_at, round_id):
            return False
        return self.due_reason(price, now) != 0

    def book_head(self) -> tuple[bool, int, int]:
        """The book's `head()`: while deposits are held, their round's time and phase."""
        if self.held:
            return True, self.held_pricing.at, self.held_pricing.round_id >> PHASE_SHIFT
        if self.head == self.tail:
            return False, 0, 0
        o = self.orders[self.head]
        return True, o.not_before, o.phase

    def held_deposits(self) -> tuple[int, int, int]:
        """The book's `held_deposits()`: how many, the first to hand back, the (last) held round's time."""
        return len(self.held), self.held[0] if self.held else 0, self.held_pricing.at if self.held_pricing else 0

    def order_status(self, order_id: int) -> tuple[int, int, int]:
        """The book's `order(id)`: (status, T, phase)."""
        if order_id == 0 or order_id >= self.tail:
            return 0, 0, 0
        if order_id < self.head and order_id not in self.held:
            return 2, 0, 0
        o = self.orders[order_id]
        return 1, o.not_before, o.phase

    # ------------------------------------------------------------ collateral and tokens

    def _move(self, book: dict, source: str, target: str, amount: int) -> None:
        if amount > book.get(source, 0):
            raise Revert("erc20: transfer amount exceeds balance")
        book[source] = book.get(source, 0) - amount
        book[target] = book.get(target, 0) + amount

    def _pay(self, receiver: str, assets: int) -> None:
        """Collateral out of the pool; credited to `claimable` if refused."""
        if assets == 0:
            return
        if receiver in self.refused:
            self.claimable[receiver] = self.claimable.get(receiver, 0) + assets
            self.total_claimable += assets
            return
        self._move(self.collateral, self.pool, receiver, assets)

    def _store_ledger(self, total_assets: int, reference_price: int) -> None:
        if total_assets >= 2**128 or reference_price >= 2**128:
            raise Revert("pool: assets or price too large")
        self.total_assets = total_assets
        self.reference_price = reference_price

    # ------------------------------------------------------------ requests

    def _check_request(self, amount: int, min_out: int, receiver: str, deadline: int, now: int) -> None:
        if amount == 0:
            raise Revert("orders: zero amount")
        if not receiver or receiver == ZERO_ADDRESS:
            raise Revert("orders: zero receiver")
        if receiver in (self.pool, self.lp_token, self.book):
            raise Revert("orders: receiver is the pool")
        if now > deadline:
            raise Revert("orders: deadline passed")
        if min_out > MAX_MIN_OUT:
            raise Revert("orders: min out too large")

    def _enqueue(self, kind, amount, min_out, requester, receiver, trade_fee, now, max_wait=None) -> Order:
        not_before = max(now + self.min_delay, self.last_not_before)
        # The expiry never comes before the expiry of the order ahead.
        max_wait = max(
            self.max_wait if max_wait is None else max_wait, self.last_not_before + self.last_max_wait - not_before
        )
        o = Order(
            id=self.tail,
            kind=kind,
            requester=requester,
            receiver=receiver,
            amount=amount,
            min_out=min_out,
            requested_at=now,
            not_before=not_before,
            phase=self.oracle.current_phase(),
            trade_fee=trade_fee,
            settle_fee=self.settle_fee if kind != ORDER_SHUTDOWN else 0,
            max_wait=max_wait,
        )
        if kind in (ORDER_MINT, ORDER_LP_DEPOSIT):
            if self.escrowed + amount + o.settle_fee > MAX_ESCROW:
                raise Revert("orders: amount too large")
            self.escrowed += amount + o.settle_fee
        self.orders[o.id] = o
        self.tail += 1
        self.last_not_before = not_before
        self.last_max_wait = max_wait
        return o

    def _request_entry(self, kind, sender, assets, min_out, receiver, deadline, now) -> Order:
        if self.paused or self.shutdown_requested:
            raise Revert("orders: closed")
        self._check_request(assets, min_out, receiver, deadline, now)
        if assets < self.min_order:
            raise Revert("orders: below min order")
        pulled = u256(assets + self.settle_fee)
        if pulled > self.collateral.get(sender, 0):
            raise Revert("erc20: transfer amount exceeds balance")
        if self.escrowed + pulled > MAX_ESCROW:
            raise Revert("orders: amount too large")
        self._move(self.collateral, sender, self.pool, pulled)
        trade_fee = self.mint_fee if kind == ORDER_MINT else 0
        return self._enqueue(kind, assets, min_out, sender, receiver, trade_fee, now)

    def request_mint(self, sender, assets, min_shares_out, receiver, deadline, now) -> Order:
        return self._request_entry(ORDER_MINT, sender, assets, min_shares_out, receiver, deadline, now)

    def request_lp_deposit(self, sender, assets, min_lp_out, receiver, deadline, now) -> Order:
        return self._request_entry(ORDER_LP_DEPOSIT, sender, assets, min_lp_out, receiver, deadline, now)

    def _request_exit(self, kind, sender, amount, min_out, receiver, deadline, now) -> Order | Settled:
        """The order queued, or, after shutdown, what it got at once (id 0)."""
        self._check_request(amount, min_out, receiver, deadline, now)
        if kind == ORDER_REDEEM:
            balance = self.balances.get(sender, 0)
            if amount > balance:
                raise Revert("pool: redeem exceeds balance")
            side = self.reference_nav
            value = u256(amount * side) // self.value_scale
        else:
            balance = self.lp_balances.get(sender, 0)
            if amount > balance:
                raise Revert("pool: withdraw exceeds balance")
            m = self.market(0, 0)
            side = u256(m.assets - self._inverse_value(m.supply, m.nav))
            value = self._lp_withdraw_assets(side, amount)
            if self.lp_rescales and self.lp_rescales[-1][0] == now:
                raise Revert("lp: shares rescaled this second")
        if value == 0 and side != 0:
            raise Revert("pool: exit worth nothing")
        if value < self.min_order and amount != balance:
            raise Revert("orders: below min order")
        if value < self.settle_fee and value != 0 and not self.is_shutdown:
            raise Revert("orders: worth less than the settle fee")
        self._move(self.balances if kind == ORDER_REDEEM else self.lp_balances, sender, self.pool, amount)
        trade_fee = self.redeem_fee if kind == ORDER_REDEEM else 0
        if not self.is_shutdown:
            return self._enqueue(kind, amount, min_out, sender, receiver, trade_fee, now)
        o = Order(0, kind, sender, receiver, amount, min_out, now, now, 0, trade_fee, 0, 0)
        return self._execute_all([o], [Pricing(ROUND_FILL, 0, 0, now)], sender, now)[0]

    def request_redeem(self, sender, shares, min_assets_out, receiver, deadline, now):
        return self._request_exit(ORDER_REDEEM, sender, shares, min_assets_out, receiver, deadline, now)

    def request_lp_withdraw(self, sender, lp_shares, min_assets_out, receiver, deadline, now):
        return self._request_exit(ORDER_LP_WITHDRAW, sender, lp_shares, min_assets_out, receiver, deadline, now)

    def shutdown(self, sender: str, now: int) -> Order:
        """The owner's `shutdown`: closes entries and queues the shutdown order."""
        if sender != self.owner:
            raise Revert("ownable: caller is not the owner")
        if self.shutdown_requested:
            raise Revert("pool: shut down")
        self.shutdown_requested = True
        # It waits at least the oracle's max age: a live feed prices it after the request.
        wait = max(self.max_wait, self.oracle.max_age)  # the oracle bounds max_age to MAX_MAX_WAIT
        return self._enqueue(ORDER_SHUTDOWN, 0, 0, sender, sender, 0, now, wait)

    # ------------------------------------------------------------ settlement

    def settle(self, settler: str, orders: list, round_ids: list[int], now: int) -> list[Settled]:
        """The book's `settle(orders, round_ids)` (orders as `IPool.Order` tuples
        or objects with its fields): the `OrderSettled` events, in order.
        Checks that each order is priced as its round alone says (`own_round`),
        whatever round id the settler named and whenever it settles."""
        if len(orders) != len(round_ids):
            raise Revert("orders: lengths differ")
        # As the book: held deposits handed back first, then every queue order
        # named is checked for its place and its commitment, then priced in queue
        # order up to the first whose round is not out.
        head = self.head
        returned, named = [], []
        for given, round_id in zip(orders, round_ids, strict=True):
            o = given if isinstance(given, Order) else Order(*given)
            if o.id < head:
                if o.id not in self.held:
                    continue  # settled already
                # Handed back in the order they were held, before the queue's.
                if named or len(returned) >= len(self.held) or o.id != self.held[len(returned)]:
                    raise Revert("orders: not the next order")
                if self.orders.get(o.id) != o:
                    raise Revert("orders: unknown order")
                returned.append(o)
                continue
            if o.id < head + len(named):
                continue  # a competing settler was first, or the order is in this batch already
            if o.id != head + len(named):
                raise Revert("orders: not the next order")
            if self.orders.get(o.id) != o:
                raise Revert("orders: unknown order")
            named.append((o, round_id))
        if not named and not returned:
            return []
        shut = self.is_shutdown
        batch, pricings = [], []
        for o, round_id in named:
            pricing = Pricing(ROUND_FILL, 0, 0, now)
            if not shut:
                outcome, price, at = self.oracle.order_round(
                    round_id, o.phase, o.not_before, o.requested_at, o.expires_at, now
                )
                if outcome == ROUND_WAIT:
                    break
                own = self.oracle.own_round(o, now)
                assert own == (outcome, price, at), (
                    f"order {o.id} priced {(outcome, price, at)} at round {round_id}, but its round says {own}"
                )
                # A next-phase proof reports the round that priced it (its low part).
                pricing = Pricing(outcome, round_id & (2**NEXT_PHASE_SHIFT - 1), price, at)
                shut = o.kind == ORDER_SHUTDOWN
            batch.append(o)
            pricings.append(pricing)

        # What settles now: each queue order, except LP deposits filled at a round,
        # held until the round's other orders have settled.
        done, holding, taken = [], [], 0
        held_pricing = self.held_pricing if self.held else None
        stored = list(self.held)
        # None yet (nor held deposits, LPs before any deposit after them): the first settle in place.
        has_lps = self.lp_total_supply != 0 or bool(stored)

        def release(kept: list[Order]) -> None:
            for h in returned + holding:
                done.append((h, held_pricing))
            for h in returned:
                kept.remove(h.id)

        for o, p in zip(batch, pricings, strict=True):
            later_round = held_pricing and (p.at > held_pricing.at or p.round_id != held_pricing.round_id)
            later = o.kind == ORDER_SHUTDOWN or (p.outcome == ROUND_FILL and later_round)
            if (stored or holding) and later:
                release(stored)
                returned, holding = [], []
                if stored:
                    break  # a held deposit was not handed back: this order waits for it
            priced = 0 < p.price < 2**128 and p.round_id < 2**80
            hold = o.kind == ORDER_LP_DEPOSIT and p.outcome == ROUND_FILL and priced
            if hold and has_lps:
                if not stored and not holding:
                    held_pricing = p
                holding.append(o)
            else:
                has_lps = has_lps or hold  # the market's first LPs: deposits after them are held
                done.append((o, p))
            taken += 1
        if returned or holding:
            next_id = head + taken
            # Over: a later round's order waits, or none does and the round is not ahead of the block.
            if next_id == self.tail:
                over = held_pricing.at <= now
            else:
                over = self.orders[next_id].not_before > held_pricing.at
            if over:
                release(stored)
            else:
                stored += [h.id for h in holding]
        if taken == 0 and not done:
            raise Revert("orders: hand back the held LP deposits first" if batch else "orders: order not due")
        escrowed = self.escrowed
        for o, _ in done:
            if o.kind in (ORDER_MINT, ORDER_LP_DEPOSIT):
                escrowed -= o.amount + o.settle_fee
        self.head, self.escrowed = head + taken, escrowed
        self.held = stored
        if held_pricing is not None:
            self.held_pricing = held_pricing
        if not done:
            return []
        return self._execute_all([o for o, _ in done], [p for _, p in done], settler, now)

    def _execute_all(self, orders: list[Order], pricings: list[Pricing], settler: str, now: int) -> list[Settled]:
        results, fees = [], 0
        for o, pricing in zip(orders, pricings, strict=True):
            result = self._execute(o, pricing, settler, now)
            results.append(result)
            fees += result.settle_fee
            self.orders.pop(o.id, None)
        self._pay(settler, fees)
        return results

    def _execute(self, o: Order, pricing: Pricing, settler: str, now: int) -> Settled:
        if o.kind == ORDER_SHUTDOWN:
            return self._settle_shutdown(o, pricing, settler, now)
        if o.kind == ORDER_LP_WITHDRAW:
            # Its escrowed shares, in today's shares if a rescale came since.
            o = replace(o, amount=self.lp_escrowed_now(o.amount, o.requested_at))
        entry = o.kind in (ORDER_MINT, ORDER_LP_DEPOSIT)
        m = Market(0, 0, 0, 0, 0)  # a void order reports price and NAV 0
        if pricing.outcome == ROUND_VOID or (entry and self.is_shutdown):
            self._refund(o, o.amount, True)
            r = (OUTCOME_VOID, 0, 0, o.amount, 0)
        else:
            m = self.market(pricing.price, pricing.at)
            fill = {
                ORDER_MINT: self._fill_mint,
                ORDER_REDEEM: self._fill_redeem,
                ORDER_LP_DEPOSIT: lambda o, m: self._fill_lp_deposit(o, m, now),
                ORDER_LP_WITHDRAW: lambda o, m: self._fill_lp_withdraw(o, m, settler),
            }[o.kind]
            r = fill(o, m)
        outcome, filled, out, refunded, settle_fee = r
        return Settled(o.id, settler, outcome, pricing.round_id, m.price, m.nav, filled, out, refunded, settle_fee)

    def _fill_mint(self, o: Order, m: Market) -> tuple:
        filled = 0
        if m.nav != 0 and m.nav == m.raw_nav:
            filled = min(o.amount, self._mint_capacity(m, self.min_backing, o.trade_fee))
        fee = fee_of(filled, o.trade_fee)
        shares = u256((filled - fee) * self.value_scale) // max(m.nav, 1)
        if shares == 0 or shares < self._pro_rata(o.min_out, filled, o.amount):
            self._refund(o, o.amount, False)
            return OUTCOME_REFUNDED, 0, 0, o.amount, o.settle_fee
        self._store_ledger(u256(m.assets + filled), self.reference_price)
        self.balances[o.receiver] = self.balances.get(o.receiver, 0) + shares
        self._refund(o, o.amount - filled, False)
        outcome = OUTCOME_FILLED if filled == o.amount else OUTCOME_PARTIAL
        return outcome, filled, shares, o.amount - filled, o.settle_fee

    def _fill_redeem(self, o: Order, m: Market) -> tuple:
        assets, _ = self._redeem_amounts(o.amount, m.nav, o.trade_fee)
        settle_fee = min(o.settle_fee, assets)
        if assets - settle_fee < o.min_out or (assets == 0 and m.nav != 0):
            # The settler is paid all the same, in tokens worth the fee at the NAV (rounded up).
            fee_shares = 0
            if settle_fee != 0:
                fee_shares = min(o.amount, ceil_div(u256(settle_fee * self.value_scale), m.nav))
                self.balances[self.pool] = u256(self.balances.get(self.pool, 0) - fee_shares)
                self._store_ledger(u256(m.assets - settle_fee), self.reference_price)
            self._refund(o, o.amount - fee_shares, False)
            return OUTCOME_REFUNDED, 0, 0, o.amount - fee_shares, settle_fee
        self.balances[self.pool] = u256(self.balances.get(self.pool, 0) - o.amount)
        self._store_ledger(u256(m.assets - assets), self.reference_price)
        self._pay(o.receiver, assets - settle_fee)
        return OUTCOME_FILLED, o.amount, assets - settle_fee, 0, settle_fee

    def _fill_lp_deposit(self, o: Order, m: Market, now: int) -> tuple:
        lp_shares, bits = self._lp_deposit_shares(m, o.amount)
        # In an exhausted pool only a bound of 0 (a deliberate recapitalisation) fills.
        if lp_shares == 0 or lp_shares < o.min_out or (o.min_out != 0 and m.nav != m.raw_nav):
            self._refund(o, o.amount, False)
            return OUTCOME_REFUNDED, 0, 0, o.amount, o.settle_fee
        self._store_ledger(u256(m.assets + o.amount), self.reference_price)
        self._lp_mint(o.receiver, lp_shares, bits, now)
        return OUTCOME_FILLED, o.amount, lp_shares, 0, o.settle_fee

    def _fill_lp_withdraw(self, o: Order, m: Market, settler: str) -> tuple:
        inverse = self._inverse_value(m.supply, m.nav)
        lp_value = u256(m.assets - inverse)
        capacity = self._lp_withdraw_capacity(lp_value, inverse)
        filled = o.amount
        assets = self._lp_withdraw_assets(lp_value, filled)
        if assets > capacity:
            filled = u256(o.amount * capacity) // assets
            assets = min(self._lp_withdraw_assets(lp_value, filled), capacity)
        settle_fee = min(o.settle_fee, assets)
        if (
            filled == 0
            or assets - settle_fee < self._pro_rata(o.min_out, filled, o.amount)
            or (assets == 0 and lp_value != 0)
        ):
            # The settler is paid all the same: LP shares worth the fee (rounded up),
            # redeemed where the backing rule allows it, else handed over as they are.
            settle_fee = min(o.settle_fee, self._lp_withdraw_assets(lp_value, o.amount))
            fee_lp_shares = 0
            if settle_fee != 0:
                fee_lp_shares = min(o.amount, self._lp_shares_for(lp_value, settle_fee))
                if settle_fee <= capacity:
                    self._lp_burn(fee_lp_shares)
                    self._store_ledger(u256(m.assets - settle_fee), self.reference_price)
                else:
                    self._move(self.lp_balances, self.pool, settler, fee_lp_shares)
                    settle_fee = 0
            self._refund(o, o.amount - fee_lp_shares, False)
            return OUTCOME_REFUNDED, 0, 0, o.amount - fee_lp_shares, settle_fee
        self._lp_burn(filled)
        self._store_ledger(u256(m.assets - assets), self.reference_price)
        self._refund(o, o.amount - filled, False)
        self._pay(o.receiver, assets - settle_fee)
        outcome = OUTCOME_FILLED if filled == o.amount else OUTCOME_PARTIAL
        return outcome, filled, assets - settle_fee, o.amount - filled, settle_fee

    def _settle_shutdown(self, o: Order, pricing: Pricing, settler: str, now: int) -> Settled:
        """Fixes the NAV at the shutdown order's round; void: at the price the void
        proof gives (the last valid round of its phase before it), or the
        reference NAV if none. The same whoever settles it and whenever."""
        price = pricing.price
        m = self.market(price, pricing.at)
        if price != 0:
            self._store_ledger(m.assets, price)
        self.reference_nav = m.nav
        self.is_shutdown = True
        outcome = OUTCOME_FILLED if pricing.outcome == ROUND_FILL else OUTCOME_VOID
        return Settled(o.id, settler, outcome, pricing.round_id, price, m.nav, 0, 0, 0, 0)

    def _refund(self, o: Order, amount: int, with_fee: bool) -> None:
        if o.kind in (ORDER_MINT, ORDER_LP_DEPOSIT):
            self._pay(o.requester, amount + (o.settle_fee if with_fee else 0))
        elif amount == 0:
            return
        elif o.kind == ORDER_REDEEM:
            self._move(self.balances, self.pool, o.requester, amount)
        else:
            self._move(self.lp_balances, self.pool, o.requester, amount)

    # ------------------------------------------------------------ rebalance, claims, admin

    def rebalance(self, sender: str, now: int) -> dict:
        """What the `Rebalance` event reports; the bounty is paid to `sender`."""
        if self.is_shutdown:
            raise Revert("pool: shut down")
        price, updated_at, round_id = self.oracle.latest(now)
        if self._orders_due(updated_at, round_id):
            raise Revert("pool: settle due orders first")
        m = self.market(price, updated_at)
        reason = self.due_reason(price, now)
        if reason == 0:
            raise Revert("pool: rebalance not due")
        before_fee = copy.copy(m)
        before_fee.raw_nav = raw_nav(price, self.reference_price, self.reference_nav, self.leverage)
        inverse = self._inverse_value(m.supply, m.nav)
        fee_assets = u256(self._inverse_value(m.supply, self._capped(before_fee)) - inverse)
        budget = min(self.bounty_budget + now - self.last_rebalance, BOUNTY_BUDGET)
        bounty, self.bounty_budget = keeper_bounty_paid(
            self.keeper_bounty, budget, u256(m.assets - inverse), reason == REASON_TIME
        )
        self._store_ledger(m.assets - bounty, price)
        # Nobody holds, or only dust at a NAV of 0: it restarts at 1.
        new_nav = WAD if m.supply == 0 or (m.nav == 0 and m.supply < DUST_SUPPLY) else m.nav
        self.reference_nav = new_nav
        self.last_rebalance = now
        self.fee_time = max(updated_at, self.fee_time)
        # A queued change applies here, at a round from its ready time on, where the
        # management fee was booked to.
        if self.parameters_ready_at and updated_at >= self.parameters_ready_at:
            self.parameters_ready_at = 0
            for name in ORDER_PARAMETERS:
                setattr(self, name, self.queued_parameters[name])
        self._pay(sender, bounty)
        return {"reason": reason, "price": price, "nav": new_nav, "management_fee": fee_assets, "bounty": bounty}

    def claim(self, sender: str) -> int:
        assets = self.claimable.get(sender, 0)
        if assets == 0:
            raise Revert("pool: nothing to claim")
        self.claimable[sender] = 0
        self.total_claimable -= assets
        self._move(self.collateral, self.pool, sender, assets)
        return assets

    def pause(self, sender: str) -> None:
        if sender not in (self.guardian, self.owner):
            raise Revert("pool: caller is not the guardian")
        if self.paused:
            raise Revert("pool: already paused")
        self.paused = True

    def unpause(self, sender: str) -> None:
        if sender != self.owner:
            raise Revert("ownable: caller is not the owner")
        if not self.paused:
            raise Revert("pool: not paused")
        self.paused = False

    def queue_parameters(self, sender: str, params: dict, now: int) -> int:
        """Queues a full parameter set; returns when a rebalance may apply it."""
        if sender != self.owner:
            raise Revert("ownable: caller is not the owner")
        if self.shutdown_requested:
            raise Revert("pool: shut down")
        check_parameters(params, self.collateral_decimals, self.leverage)
        self.queued_parameters = {name: params[name] for name in ORDER_PARAMETERS}
        self.parameters_ready_at = now + self.parameter_delay
        return self.parameters_ready_at

    def cancel_parameters(self, sender: str) -> None:
        if sender != self.owner:
            raise Revert("ownable: caller is not the owner")
        if not self.parameters_ready_at:
            raise Revert("pool: no parameters queued")
        self.parameters_ready_at = 0
