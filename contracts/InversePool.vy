# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Inverse token pool
@license MIT
@author Inverse token contributors
@notice One market: an underlying price feed, a collateral token and a leverage L.
        The pool holds all collateral and is itself the inverse ERC-20: each token
        is worth the NAV, which moves -L times the price between rebalances and
        pays a management fee by the second:

            nav = n0 * max(0, 1 - L * (P - P0) / P0) * (1 - fee * (t - t0) / YEAR)

        capped at total_assets / totalSupply. Liquidity providers own the rest
        (`lp_value = total_assets - inverse_value`), take the other side and earn
        the fees. A permissionless `rebalance`, due daily or when the price has
        moved past the threshold, resets the reference and so the exposure.

        Every mint, redeem, LP deposit and LP withdrawal is an order, requested
        at the market's order book (`OrderBook.vy`, created with the pool) and
        settled at its round, the first oracle round after it. The book proves
        the round and hands the orders here in queue order; the pool fills or
        refunds them at that round's price and time. Nothing moves the pool to a
        later price (a rebalance) while an order whose round is out waits, so no
        one who sees a price coming can trade on it. The pool holds every token:
        the collateral (tracked, escrowed and claimable) and escrowed tokens and
        LP shares.
@custom:security Trusts its order book (created here) to hand it only proven
        orders in queue order, the oracle adapter for prices, and the
        collateral to be a plain ERC-20 (fee-on-transfer tokens are refused by
        balance checks; a receiver the collateral refuses is credited to
        `claimable`). The owner sets bounded parameters, applied only after
        `parameter_delay`, and can shut down; the guardian can pause new
        risk. Neither can move user funds or choose a price. Assets are
        tracked internally, so donations change nothing.
@custom:kill `pause` (guardian or owner) stops mint and LP deposit requests while
        settlement, exits and rebalance stay open. `shutdown` (owner, irreversible)
        queues an order that fixes the NAV at its round; afterwards holders and LPs
        exit without the oracle.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.tokens import erc20

from .interfaces import ILpToken
from .interfaces import IOracle
from .interfaces import IOrderBook
from .interfaces import IPool
from . import constants
from . import market_math

implements: IPool

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: erc20[ownable := ownable]

# Left out on purpose: `erc20.mint`, `erc20.burn`, `erc20.burn_from`,
# `erc20.set_minter`, `erc20.is_minter` (tokens are created and destroyed only by
# settled orders at the NAV) and `erc20`'s ownership functions (ownership is
# two-step, from `ownable_2step`). `renounce_ownership` is left out too: an
# ownerless pool could never be shut down.
exports: (
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
    ownable.owner,
    ownable_2step.pending_owner,
    ownable_2step.transfer_ownership,
    ownable_2step.accept_ownership,
)


WAD: constant(uint256) = constants.WAD

# The collateral token every value is paid in.
collateral: public(immutable(address))

# The price adapter (see `ChainlinkOracle.vy`): latest price and round proofs.
oracle: public(immutable(address))

# The LP share token, created by this pool from a blueprint.
lp_token: public(immutable(address))

# The order book where users request and anyone settles, created from a blueprint.
order_book: public(immutable(address))

# The previews and the asset split (`preview_mint`, `max_mint`, `lp_value`, ...:
# `PoolLens.vy`), created from a blueprint.
lens: public(immutable(address))

# Leverage L (WAD): the token moves -L times the underlying between rebalances.
leverage: public(immutable(uint256))

# Seconds from `queue_parameters` until the change may apply, so everyone can exit first.
parameter_delay: public(immutable(uint256))

# Collateral (own decimals) = tokens * nav / _VALUE_SCALE, i.e. 10**(36 - decimals).
_VALUE_SCALE: immutable(uint256)

# Virtual LP shares (and one virtual asset) against first-depositor inflation;
# 10**(18 - decimals) also makes one LP share worth about one collateral unit.
_LP_VIRTUAL_SHARES: immutable(uint256)

# Whether the oracle is a pull oracle (no Chainlink feed): `min_delay` may go down to 1 s.
_PULL: immutable(bool)

# One whole collateral unit (10**decimals): fee and size bounds are in units.
_COLLATERAL_UNIT: immutable(uint256)

# ---------------------------------------------------------------- storage
# Vyper gives every variable a slot of its own, and the first read of a slot in a
# transaction costs 2,100 gas. So the values one operation reads together share a
# word, packed by hand and decoded once per call:
#
#   _ledger_word    total_assets (bits 0-127), reference_price (128-255)
#   _settings_word  paused (bit 0), is_shutdown (bit 1), shutdown_requested
#                   (bit 2), mint_fee (bits 8-63), redeem_fee (64-119),
#                   min_backing (120-183), keeper_bounty (184-255)
#   _schedule_word  last_rebalance (bits 0-39), bounty_budget (40-63), interval (64-87),
#                   parameters_ready_at (88-127), threshold (128-191),
#                   management_fee (192-255)
#   _terms_word     settle_fee (bits 0-71), min_delay (72-95), max_wait
#                   (96-119), min_order (120-199), fee_time (200-255)
#
# Each parameter's bound fits its field; total_assets and reference_price are
# checked when written. `parameters()` reads them all.

_ledger_word: uint256
_settings_word: uint256
_schedule_word: uint256
_terms_word: uint256

# Parameters the owner queued; in force from the first rebalance at a round
# published at or after `parameters_ready_at` (none queued while that is 0).
queued_parameters: public(IPool.Parameters)

# NAV at the last rebalance (n0, WAD), management fee booked. After shutdown:
# the settled NAV. A word of its own: repeated gains can grow it past 128 bits.
reference_nav: public(uint256)

# May pause (not unpause): a fast-response key for new risk only.
guardian: public(address)

# Collateral a payout could not deliver (the receiver was refused by the
# collateral), waiting for its owner's `claim`.
claimable: public(HashMap[address, uint256])

# Sum of `claimable`: collateral the pool holds for claims, outside total_assets.
total_claimable: public(uint256)

_MASK_24: constant(uint256) = 2**24 - 1
_MASK_40: constant(uint256) = 2**40 - 1
_MASK_56: constant(uint256) = 2**56 - 1
_MASK_64: constant(uint256) = 2**64 - 1
_MASK_72: constant(uint256) = 2**72 - 1
_MASK_80: constant(uint256) = 2**80 - 1
_MASK_128: constant(uint256) = 2**128 - 1
_PAUSED: constant(uint256) = 1
_SHUT_DOWN: constant(uint256) = 2
_SHUTDOWN_REQUESTED: constant(uint256) = 4


# `_settings_word`, decoded.
struct Settings:
    # True while mint and LP deposit requests are stopped.
    paused: bool
    # True once the shutdown order has settled: the NAV is fixed.
    is_shutdown: bool
    # True once the owner has requested shutdown (irreversible).
    shutdown_requested: bool
    # Mint fee, WAD fraction of the collateral paid in; goes to LPs.
    mint_fee: uint256
    # Redeem fee, WAD fraction of the gross payout; goes to LPs.
    redeem_fee: uint256
    # Required LP value per unit of inverse value (WAD) after a mint or LP withdrawal.
    min_backing: uint256
    # Collateral paid from LP value to whoever rebalances.
    keeper_bounty: uint256


# `_schedule_word`, decoded: what a rebalance checks and updates.
struct Schedule:
    # Timestamp of the last rebalance (or of deployment).
    last_rebalance: uint256
    # Keepers' budget left at the last rebalance, in seconds of accrual (see `_rebalance`).
    bounty_budget: uint256
    # Seconds between scheduled rebalances.
    interval: uint256
    # When queued parameters may apply (0: none queued).
    parameters_ready_at: uint256
    # Price move |P - P0| / P0 (WAD) that makes a rebalance due.
    threshold: uint256
    # Yearly management fee (WAD), holders to LPs, accrued continuously.
    management_fee: uint256


# `_terms_word`, decoded: what a request needs, and the management fee's clock.
struct Terms:
    # Collateral each order pays its settler.
    settle_fee: uint256
    # Seconds from a request to the earliest round that may price it.
    min_delay: uint256
    # Seconds after T before an order without a round is void.
    max_wait: uint256
    # Smallest order, in collateral.
    min_order: uint256
    # Round time t0 from which the management fee accrues (the last rebalance's round).
    fee_time: uint256


# Everything one pricing needs to know about the market, read once.
struct Market:
    # Tracked collateral (A).
    assets: uint256
    # Inverse token supply (S), escrowed tokens included.
    supply: uint256
    # Oracle price at the last rebalance (P0).
    reference_price: uint256
    # The price this pricing is at, or 0 after shutdown (not read).
    price: uint256
    # NAV before the cap at assets / supply.
    raw_nav: uint256
    # NAV: raw_nav capped at assets / supply.
    nav: uint256


# One order's result, as `OrderSettled` reports it.
struct Result:
    outcome: uint256
    filled: uint256
    out: uint256
    refunded: uint256
    settle_fee: uint256


@deploy
def __init__(
    name_: String[25],
    symbol_: String[5],
    collateral_: address,
    oracle_: address,
    leverage_: uint256,
    lp_blueprint: address,
    order_book_blueprint: address,
    lens_blueprint: address,
    lp_name: String[25],
    lp_symbol: String[5],
    guardian_: address,
    params: IPool.Parameters,
    parameter_delay_: uint256,
):
    """
    @notice Creates a market. Reads the collateral's decimals and, as the first
            reference, the oracle's latest round (which must be valid); on a pull
            oracle its `price()` (under `max_age` old), as no slot may be proven
            in the deployment's block.
    @param name_ Inverse token name, also its EIP-712 domain name.
    @param symbol_ Inverse token symbol.
    @param collateral_ The collateral ERC-20 (up to 18 decimals, no transfer fee).
    @param oracle_ The price adapter.
    @param leverage_ L as a WAD, between 0.5 and 5.
    @param lp_blueprint An EIP-5202 blueprint of `LpToken.vy`.
    @param order_book_blueprint An EIP-5202 blueprint of `OrderBook.vy`.
    @param lens_blueprint An EIP-5202 blueprint of `PoolLens.vy`.
    @param lp_name LP token name.
    @param lp_symbol LP token symbol.
    @param guardian_ The address allowed to pause.
    @param params Initial parameters, checked against their bounds.
    @param parameter_delay_ Seconds a parameter change waits (1 to 30 days).
    """
    assert collateral_ != empty(address), "pool: zero collateral"
    assert oracle_ != empty(address), "pool: zero oracle"
    assert leverage_ >= constants.MIN_LEVERAGE and leverage_ <= constants.MAX_LEVERAGE, "pool: leverage out of bounds"
    collateral_decimals: uint8 = staticcall IERC20Detailed(collateral_).decimals()
    assert collateral_decimals <= constants.MAX_COLLATERAL_DECIMALS, "pool: collateral decimals above 18"
    assert parameter_delay_ >= constants.MIN_PARAMETER_DELAY and parameter_delay_ <= constants.MAX_PARAMETER_DELAY, "pool: parameter delay out of bounds"

    ownable.__init__()
    ownable_2step.__init__()
    erc20.__init__(name_, symbol_, 18, name_, "1")

    collateral = collateral_
    oracle = oracle_
    leverage = leverage_
    parameter_delay = parameter_delay_
    _COLLATERAL_UNIT = 10 ** convert(collateral_decimals, uint256)
    _VALUE_SCALE = 10 ** convert(36 - collateral_decimals, uint256)
    _LP_VIRTUAL_SHARES = 10 ** convert(18 - collateral_decimals, uint256)
    _PULL = staticcall IOracle(oracle_).feed() == empty(address)
    lp_token = create_from_blueprint(lp_blueprint, lp_name, lp_symbol)
    order_book = create_from_blueprint(order_book_blueprint, collateral_, oracle_, lp_token)
    lens = create_from_blueprint(
        lens_blueprint, self, oracle_, lp_token, order_book, leverage_, _VALUE_SCALE, _LP_VIRTUAL_SHARES
    )

    self._check_parameters(params)
    self._apply_parameters(params)
    self._set_guardian(guardian_)
    price: uint256 = 0
    updated_at: uint256 = 0
    round_id: uint256 = 0
    if _PULL:
        # A pull oracle's `latest()` is a recent slot's proof, which a deployment
        # on a slow chain cannot bring in the same block: the newest price on-chain.
        price = staticcall IOracle(oracle_).price()
        updated_at = block.timestamp
    else:
        price, updated_at, round_id = staticcall IOracle(oracle_).latest()
    self._store_ledger(0, price)
    self.reference_nav = WAD
    schedule: Schedule = self._schedule()
    schedule.last_rebalance = block.timestamp
    schedule.bounty_budget = constants.BOUNTY_RESERVE
    self._store_schedule(schedule)
    terms: Terms = self._terms()
    terms.fee_time = updated_at
    self._store_terms(terms)


# ---------------------------------------------------------------- orders (called by the order book)


@internal
@view
def _request_terms() -> IPool.Terms:
    # What the order book's requests read: pushed to it whenever it changes.
    settings: Settings = self._settings()
    terms: Terms = self._terms()
    return IPool.Terms(
        closed=settings.paused or settings.shutdown_requested,
        is_shutdown=settings.is_shutdown,
        mint_fee=settings.mint_fee,
        redeem_fee=settings.redeem_fee,
        settle_fee=terms.settle_fee,
        min_delay=terms.min_delay,
        max_wait=terms.max_wait,
        min_order=terms.min_order,
    )


@external
def take(kind: uint256, owner: address, amount: uint256) -> (uint256, uint256):
    """
    @notice Moves an exit request's tokens (redeem) or LP shares (LP withdrawal)
            into the pool's escrow, where they stay in the supply and exposed.
    @param kind ORDER_REDEEM or ORDER_LP_WITHDRAW.
    @param owner The requester.
    @param amount Tokens or LP shares.
    @return uint256 The owner's balance before.
    @return uint256 Their collateral value at the last reference (for `min_order`).
    """
    self._check_order_book()
    balance: uint256 = 0
    value: uint256 = 0
    # What the side is worth at the last reference: an exit worth nothing there
    # is refused unless the whole side is (a dead market may still empty), so
    # dust cannot queue free orders that pay their settler nothing.
    side: uint256 = 0
    if kind == constants.ORDER_REDEEM:
        balance = erc20.balanceOf[owner]
        assert amount <= balance, "pool: redeem exceeds balance"
        side = self.reference_nav
        value = amount * side // _VALUE_SCALE
        erc20._transfer(owner, self, amount)
    else:
        balance = staticcall ILpToken(lp_token).balanceOf(owner)
        assert amount <= balance, "pool: withdraw exceeds balance"
        m: Market = self._market(self._settings(), 0, 0)
        side = m.assets - market_math.inverse_value(m.supply, m.nav, _VALUE_SCALE)
        value = self._lp_withdraw_assets(side, amount)
        extcall ILpToken(lp_token).escrow(owner, amount)
    assert value != 0 or side == 0, "pool: exit worth nothing"
    return balance, value


@external
def execute(orders: DynArray[IPool.Order, constants.MAX_BATCH], pricings: DynArray[IOracle.Pricing, constants.MAX_BATCH], settler: address):
    """
    @notice Fills or refunds orders the order book has proven, in queue order,
            each at its round's price and time, and pays the settler their
            settle fees.
    @param orders The orders.
    @param pricings Each order's round, price and outcome.
    @param settler Who settled them.
    """
    self._check_order_book()
    fees: uint256 = 0
    for i: uint256 in range(constants.MAX_BATCH):
        if i == len(orders):
            break
        fees += self._execute(orders[i], pricings[i], settler)
    self._pay(settler, fees)


@external
def claim() -> uint256:
    """
    @notice Pays the caller the collateral a settlement could not deliver to them.
    @return uint256 The collateral paid.
    """
    assets: uint256 = self.claimable[msg.sender]
    assert assets != 0, "pool: nothing to claim"
    self.claimable[msg.sender] = 0
    self.total_claimable -= assets
    assert extcall IERC20(collateral).transfer(msg.sender, assets, default_return_value=True), "pool: transfer failed"
    log IPool.Claim(account=msg.sender, assets=assets)
    return assets


# ---------------------------------------------------------------- rebalance


@external
def rebalance(receiver: address = msg.sender) -> uint256:
    """
    @notice Resets the exposure when due (interval elapsed or price moved past the
            threshold) and no order whose round is out waits (on a pull market:
            none whose T is at or before the price's time): books the accrued
            management fee, makes the latest round's price and NAV the new
            reference and pays the keeper bounty out of keepers' budget (a
            bounty every 12 hours, by the second, at most three held, the last
            two kept for threshold rebalances). Chainlink Automation calls this
            through the market's `Upkeep` contract, which names the receiver.
    @param receiver Who gets the bounty; the caller by default.
    @return uint256 The bounty paid, in collateral.
    """
    assert receiver not in [empty(address), self, lp_token, order_book], "pool: bad receiver"
    return self._rebalance(receiver)


@external
@view
def rebalance_due() -> bool:
    """
    @notice Whether `rebalance()` would succeed now. False (not a revert) while
            the oracle has no valid price, an order whose round is out (pull:
            whose T is at or before the price's time) waits, or once the
            shutdown order has settled.
    @return bool True when due.
    """
    return self._rebalance_due()


# ---------------------------------------------------------------- views


@external
@view
def nav() -> uint256:
    """
    @notice NAV now: collateral per whole token at the latest price, management
            fee accrued to this second, as a WAD of whole collateral units.
    @return uint256 The NAV.
    """
    return self._live_market(self._settings()).nav


@external
@view
def oracle_price() -> uint256:
    """
    @notice The oracle's current price (reverts with its reason if invalid).
    @return uint256 The price, WAD.
    """
    return staticcall IOracle(oracle).price()


@external
@view
def total_assets() -> uint256:
    """
    @notice Collateral the pool accounts for (A), escrow and claims not included.
            Never read from `balanceOf`, so donations change nothing.
    @return uint256 Collateral, in its own decimals.
    """
    return self._ledger_word & _MASK_128


@external
@view
def reference_price() -> uint256:
    """
    @notice Oracle price at the last rebalance (P0), from which the NAV moves.
    @return uint256 The price, WAD.
    """
    return self._ledger_word >> 128


@external
@view
def last_rebalance() -> uint256:
    """
    @notice Timestamp of the last rebalance (or of deployment).
    @return uint256 Seconds since the epoch.
    """
    return self._schedule().last_rebalance


@external
@view
def fee_time() -> uint256:
    """
    @notice Round time from which the management fee accrues (t0): the
            `updatedAt` of the last rebalance's round.
    @return uint256 Seconds since the epoch.
    """
    return self._terms().fee_time


@external
@view
def parameters() -> IPool.Parameters:
    """
    @notice The parameters in force.
    @return IPool.Parameters The parameters.
    """
    settings: Settings = self._settings()
    schedule: Schedule = self._schedule()
    terms: Terms = self._terms()
    return IPool.Parameters(
        interval=schedule.interval,
        threshold=schedule.threshold,
        mint_fee=settings.mint_fee,
        redeem_fee=settings.redeem_fee,
        management_fee=schedule.management_fee,
        keeper_bounty=settings.keeper_bounty,
        min_backing=settings.min_backing,
        settle_fee=terms.settle_fee,
        min_delay=terms.min_delay,
        max_wait=terms.max_wait,
        min_order=terms.min_order,
    )


@external
@view
def parameters_ready_at() -> uint256:
    """
    @notice When the queued parameter change may apply: the first rebalance at
            a round published at or after it applies it. 0 when none is queued
            (`queued_parameters()` then shows the last set queued, not pending).
    @return uint256 Seconds since the epoch.
    """
    return self._schedule().parameters_ready_at


@external
@view
def paused() -> bool:
    """
    @notice True while mint and LP deposit requests are stopped.
    @return bool Whether paused.
    """
    return self._settings().paused


@external
@view
def is_shutdown() -> bool:
    """
    @notice True once the shutdown order has settled and the NAV is fixed.
    @return bool Whether shut down.
    """
    return self._settings().is_shutdown


@external
@view
def shutdown_requested() -> bool:
    """
    @notice True once the owner has requested shutdown (mint and LP deposit
            requests are closed from then on).
    @return bool Whether shutdown is requested.
    """
    return self._settings().shutdown_requested


# ---------------------------------------------------------------- admin


@external
def pause():
    """
    @notice Stops mint and LP deposit requests. Settlement, exits and rebalance stay open.
    """
    assert msg.sender == self.guardian or msg.sender == ownable.owner, "pool: caller is not the guardian"
    settings: Settings = self._settings()
    assert not settings.paused, "pool: already paused"
    settings.paused = True
    self._store_settings(settings)
    self._push_terms()
    log IPool.Paused(account=msg.sender)


@external
def unpause():
    """
    @notice Lets mint and LP deposit requests resume (owner only).
    """
    ownable._check_owner()
    settings: Settings = self._settings()
    assert settings.paused, "pool: not paused"
    settings.paused = False
    self._store_settings(settings)
    self._push_terms()
    log IPool.Unpaused(account=msg.sender)


@external
def shutdown() -> uint256:
    """
    @notice Ends the market for good, in the queue like an order: mint and LP
            deposit requests close now; at the order's round (or, if none comes
            in time, the latest readable one) the NAV is fixed, after every
            earlier order has settled. Then exits settle at once without the oracle.
    @return uint256 The shutdown order's id.
    """
    ownable._check_owner()
    settings: Settings = self._settings()
    assert not settings.shutdown_requested, "pool: shut down"
    settings.shutdown_requested = True
    self._store_settings(settings)
    return extcall IOrderBook(order_book).request_shutdown(msg.sender, self._request_terms())


@external
def queue_parameters(params: IPool.Parameters):
    """
    @notice Queues new fees, rebalance and order parameters, each within its
            on-chain bounds. The first rebalance at a round published at least
            `parameter_delay` from now applies them, so everyone can exit
            before a change they dislike (an order requested `min_delay`
            before then settles on today's terms); the management fee changes
            from that round, never for time already past. Replaces a change
            queued before (whose `ParametersQueued` no longer counts), and its
            wait starts again. Pending orders keep the fees they were
            requested with. A change still queued at shutdown never applies.
    @param params The new parameters (all of them).
    """
    ownable._check_owner()
    assert not self._settings().shutdown_requested, "pool: shut down"
    self._check_parameters(params)
    self.queued_parameters = params
    schedule: Schedule = self._schedule()
    schedule.parameters_ready_at = block.timestamp + parameter_delay
    self._store_schedule(schedule)
    log IPool.ParametersQueued(
        interval=params.interval,
        threshold=params.threshold,
        mint_fee=params.mint_fee,
        redeem_fee=params.redeem_fee,
        management_fee=params.management_fee,
        keeper_bounty=params.keeper_bounty,
        min_backing=params.min_backing,
        settle_fee=params.settle_fee,
        min_delay=params.min_delay,
        max_wait=params.max_wait,
        min_order=params.min_order,
        ready_at=schedule.parameters_ready_at,
    )


@external
def cancel_parameters():
    """
    @notice Drops the queued parameter change; the parameters in force stay.
    """
    ownable._check_owner()
    schedule: Schedule = self._schedule()
    assert schedule.parameters_ready_at != 0, "pool: no parameters queued"
    log IPool.ParametersCancelled(ready_at=schedule.parameters_ready_at)
    schedule.parameters_ready_at = 0
    self._store_schedule(schedule)


@external
def set_guardian(new_guardian: address):
    """
    @notice Names the address allowed to pause (the zero address: nobody but the owner).
    @param new_guardian The new guardian.
    """
    ownable._check_owner()
    self._set_guardian(new_guardian)


# ---------------------------------------------------------------- internal: settlement


@internal
def _execute(o: IPool.Order, pricing: IOracle.Pricing, settler: address) -> uint256:
    """
    @dev Settles one order at its round's price and time, or refunds it: void,
         or a mint or LP deposit after shutdown (everything back, settle fee
         included). After shutdown exits settle at the fixed NAV. Returns the
         settle fee earned.
    """
    settings: Settings = self._settings()
    if o.kind == constants.ORDER_SHUTDOWN:
        self._settle_shutdown(o, pricing, settings, settler)
        return 0
    r: Result = empty(Result)
    m: Market = empty(Market)
    entry: bool = o.kind == constants.ORDER_MINT or o.kind == constants.ORDER_LP_DEPOSIT
    if o.kind == constants.ORDER_LP_WITHDRAW:
        # Its escrowed shares, in today's shares if a rescale came since (LpToken.vy).
        o.amount = staticcall ILpToken(lp_token).escrowed_now(o.amount, o.requested_at)
    if pricing.outcome == constants.ROUND_VOID or (entry and settings.is_shutdown):
        r = Result(outcome=constants.OUTCOME_VOID, filled=0, out=0, refunded=o.amount, settle_fee=0)
        self._refund(o, o.amount, True)
    else:
        m = self._market(settings, pricing.price, pricing.at)
        if o.kind == constants.ORDER_MINT:
            r = self._fill_mint(o, m, settings)
        elif o.kind == constants.ORDER_REDEEM:
            r = self._fill_redeem(o, m)
        elif o.kind == constants.ORDER_LP_DEPOSIT:
            r = self._fill_lp_deposit(o, m)
        else:
            r = self._fill_lp_withdraw(o, m, settings, settler)
    log IPool.OrderSettled(
        order_id=o.id,
        settler=settler,
        outcome=r.outcome,
        round_id=pricing.round_id,
        price=m.price,
        nav=m.nav,
        filled=r.filled,
        out=r.out,
        refunded=r.refunded,
        settle_fee=r.settle_fee,
    )
    return r.settle_fee


@internal
def _fill_mint(o: IPool.Order, m: Market, settings: Settings) -> Result:
    """
    @dev A mint at the round's NAV: what the LPs' backing allows (none while the
         NAV is capped or 0), less the trade fee, as tokens; refunded (the settler
         still paid) when that is nothing or below the order's bound.
    """
    filled: uint256 = 0
    if m.nav != 0 and m.nav == m.raw_nav:
        inverse: uint256 = market_math.inverse_value(m.supply, m.nav, _VALUE_SCALE)
        filled = min(o.amount, market_math.mint_capacity(m.assets - inverse, inverse, settings.min_backing, o.trade_fee))
    fee: uint256 = market_math.fee(filled, o.trade_fee)
    shares: uint256 = (filled - fee) * _VALUE_SCALE // max(m.nav, 1)
    if shares == 0 or shares < self._pro_rata(o.min_out, filled, o.amount):
        self._refund(o, o.amount, False)
        return Result(outcome=constants.OUTCOME_REFUNDED, filled=0, out=0, refunded=o.amount, settle_fee=o.settle_fee)
    self._store_ledger(m.assets + filled, m.reference_price)
    erc20._mint(o.receiver, shares)
    log IPool.Mint(sender=o.requester, receiver=o.receiver, assets=filled, shares=shares, fee=fee, nav=m.nav)
    self._refund(o, o.amount - filled, False)
    return Result(
        outcome=constants.OUTCOME_FILLED if filled == o.amount else constants.OUTCOME_PARTIAL,
        filled=filled,
        out=shares,
        refunded=o.amount - filled,
        settle_fee=o.settle_fee,
    )


@internal
def _fill_redeem(o: IPool.Order, m: Market) -> Result:
    """
    @dev A redeem at the round's NAV, less the trade fee and the settle fee;
         refunded below the order's bound (the settler paid in its tokens).
    """
    assets: uint256 = 0
    fee: uint256 = 0
    assets, fee = market_math.redeem_amounts(o.amount, m.nav, o.trade_fee, _VALUE_SCALE)
    settle_fee: uint256 = min(o.settle_fee, assets)
    # Shares worth nothing at a positive NAV (rounding) are refunded, not burnt for
    # nothing, whatever the bound; at a zero NAV they may go, so the market can restart.
    if assets - settle_fee < o.min_out or (assets == 0 and m.nav != 0):
        # The settler is paid all the same, in tokens worth the fee redeemed at
        # the NAV (rounded up), so a refused exit is never free to request.
        fee_shares: uint256 = 0
        if settle_fee != 0:
            fee_shares = min(o.amount, market_math.ceil_div(settle_fee * _VALUE_SCALE, m.nav))
            erc20._burn(self, fee_shares)
            self._store_ledger(m.assets - settle_fee, m.reference_price)
        self._refund(o, o.amount - fee_shares, False)
        return Result(
            outcome=constants.OUTCOME_REFUNDED, filled=0, out=0, refunded=o.amount - fee_shares, settle_fee=settle_fee
        )
    erc20._burn(self, o.amount)
    self._store_ledger(m.assets - assets, m.reference_price)
    self._pay(o.receiver, assets - settle_fee)
    log IPool.Redeem(sender=o.requester, receiver=o.receiver, shares=o.amount, assets=assets - settle_fee, fee=fee, nav=m.nav)
    return Result(outcome=constants.OUTCOME_FILLED, filled=o.amount, out=assets - settle_fee, refunded=0, settle_fee=settle_fee)


@internal
def _fill_lp_deposit(o: IPool.Order, m: Market) -> Result:
    """
    @dev An LP deposit at the round's LP value; refunded below the order's bound
         in shares. In an exhausted pool (the NAV capped at assets / supply) a
         deposit first makes holders whole and its shares are worth only what is
         left: a recapitalisation is a deliberate act, asked with a bound of 0;
         any other bound refunds it, so a bound set on a healthy preview keeps
         the deposit's value.
    """
    priced: uint256 = self._lp_deposit_shares(m, o.amount)
    lp_shares: uint256 = priced & _MASK_128
    if lp_shares == 0 or lp_shares < o.min_out or (o.min_out != 0 and m.nav != m.raw_nav):
        self._refund(o, o.amount, False)
        return Result(outcome=constants.OUTCOME_REFUNDED, filled=0, out=0, refunded=o.amount, settle_fee=o.settle_fee)
    self._store_ledger(m.assets + o.amount, m.reference_price)
    extcall ILpToken(lp_token).mint(o.receiver, priced)
    log IPool.LpDeposit(sender=o.requester, receiver=o.receiver, assets=o.amount, lp_shares=lp_shares)
    return Result(outcome=constants.OUTCOME_FILLED, filled=o.amount, out=lp_shares, refunded=0, settle_fee=o.settle_fee)


@internal
def _fill_lp_withdraw(o: IPool.Order, m: Market, settings: Settings, settler: address) -> Result:
    """
    @dev An LP withdrawal at the round's LP value, as far as the backing rule
         allows (partly filled, the rest refunded); refunded below the order's
         bound, its settler paid in its LP shares.
    """
    inverse: uint256 = market_math.inverse_value(m.supply, m.nav, _VALUE_SCALE)
    lp_value: uint256 = m.assets - inverse
    capacity: uint256 = market_math.lp_withdraw_capacity(lp_value, inverse, settings.min_backing, settings.is_shutdown)
    filled: uint256 = o.amount
    assets: uint256 = self._lp_withdraw_assets(lp_value, filled)
    if assets > capacity:
        # Fill what the backing allows, rounded down; the cap also absorbs the
        # share price's rounding.
        filled = o.amount * capacity // assets
        assets = min(self._lp_withdraw_assets(lp_value, filled), capacity)
    settle_fee: uint256 = min(o.settle_fee, assets)
    if filled == 0 or assets - settle_fee < self._pro_rata(o.min_out, filled, o.amount) or (assets == 0 and lp_value != 0):
        # The settler is paid all the same, so a refused exit is never free to
        # request: LP shares worth the fee (rounded up, as far as the order's
        # value allows), redeemed for collateral where the backing rule allows
        # it, else handed over as they are, which moves no value out of the pool.
        settle_fee = min(o.settle_fee, self._lp_withdraw_assets(lp_value, o.amount))
        fee_lp_shares: uint256 = 0
        if settle_fee != 0:
            fee_lp_shares = min(o.amount, self._lp_shares_for(lp_value, settle_fee))
            if settle_fee <= capacity:
                extcall ILpToken(lp_token).burn(self, fee_lp_shares)
                self._store_ledger(m.assets - settle_fee, m.reference_price)
            else:
                extcall ILpToken(lp_token).transfer(settler, fee_lp_shares)
                settle_fee = 0
        self._refund(o, o.amount - fee_lp_shares, False)
        return Result(
            outcome=constants.OUTCOME_REFUNDED,
            filled=0,
            out=0,
            refunded=o.amount - fee_lp_shares,
            settle_fee=settle_fee,
        )
    extcall ILpToken(lp_token).burn(self, filled)
    self._store_ledger(m.assets - assets, m.reference_price)
    self._refund(o, o.amount - filled, False)
    self._pay(o.receiver, assets - settle_fee)
    log IPool.LpWithdraw(sender=o.requester, receiver=o.receiver, lp_shares=filled, assets=assets - settle_fee)
    return Result(
        outcome=constants.OUTCOME_FILLED if filled == o.amount else constants.OUTCOME_PARTIAL,
        filled=filled,
        out=assets - settle_fee,
        refunded=o.amount - filled,
        settle_fee=settle_fee,
    )


@internal
def _settle_shutdown(o: IPool.Order, pricing: IOracle.Pricing, settings: Settings, settler: address):
    """
    @dev Fixes the NAV at the shutdown order's round. If it is void (none came
         in time: a dead oracle), the void proof's price stands: the last valid
         round of its phase before it, whatever its age, or (none) the last
         reference NAV. The proof fixes that round, so nobody picks it by
         choosing when to settle.
    """
    price: uint256 = pricing.price
    m: Market = self._market(settings, price, pricing.at)
    if price != 0:
        self._store_ledger(m.assets, price)
    self.reference_nav = m.nav
    settings.is_shutdown = True
    self._store_settings(settings)
    log IPool.OrderSettled(
        order_id=o.id,
        settler=settler,
        outcome=constants.OUTCOME_FILLED if pricing.outcome == constants.ROUND_FILL else constants.OUTCOME_VOID,
        round_id=pricing.round_id,
        price=price,
        nav=m.nav,
        filled=0,
        out=0,
        refunded=0,
        settle_fee=0,
    )
    log IPool.Shutdown(account=o.requester, price=price, nav=m.nav)


@internal
def _refund(o: IPool.Order, amount: uint256, with_fee: bool):
    """
    @dev Returns `amount` of an order's escrowed input to its requester (and, if
         `with_fee`, an entry's settle fee).
    """
    if o.kind == constants.ORDER_MINT or o.kind == constants.ORDER_LP_DEPOSIT:
        self._pay(o.requester, amount + (o.settle_fee if with_fee else 0))
    elif amount == 0:
        return
    elif o.kind == constants.ORDER_REDEEM:
        erc20._transfer(self, o.requester, amount)
    else:
        extcall ILpToken(lp_token).transfer(o.requester, amount)


@internal
@pure
def _pro_rata(min_out: uint256, filled: uint256, amount: uint256) -> uint256:
    """
    @dev The slippage bound for a fill of `filled` out of `amount`, rounded up.
         min_out < 2**128 and filled < 2**120: the product cannot overflow.
    """
    if filled == amount:
        return min_out
    return market_math.ceil_div(min_out * filled, amount)


# ---------------------------------------------------------------- internal: pricing


@internal
@view
def _market(settings: Settings, price: uint256, at: uint256) -> Market:
    """
    @dev The market at `price` and time `at`: the NAV moved from the reference
         and the management fee accrued from t0 to `at`, capped at A / S. After
         shutdown the settled NAV stands and `price` is not used.
    """
    ledger: uint256 = self._ledger_word
    m: Market = Market(
        assets=ledger & _MASK_128,
        supply=erc20.totalSupply,
        reference_price=ledger >> 128,
        price=price,
        raw_nav=self.reference_nav,
        nav=0,
    )
    if not settings.is_shutdown and price != 0:
        m.raw_nav = market_math.accrued(
            market_math.raw_nav(price, m.reference_price, m.raw_nav, leverage),
            at,
            self._terms().fee_time,
            self._schedule().management_fee,
        )
    m.nav = market_math.capped(m.raw_nav, m.assets, m.supply, _VALUE_SCALE)
    return m


@internal
@view
def _live_market(settings: Settings) -> Market:
    """
    @dev The market now: the latest price (reverting with the oracle's reason)
         unless shut down.
    """
    price: uint256 = 0
    if not settings.is_shutdown:
        price = staticcall IOracle(oracle).price()
    return self._market(settings, price, block.timestamp)


@internal
@view
def _lp_deposit_shares(m: Market, assets: uint256) -> uint256:
    """
    @dev Shares for the LP value the deposit adds, at the pre-deposit share price
         with the virtual offset (`LpToken.deposit_shares`: shares in bits
         0-127, the rescale they were priced after above). That is all of
         `assets` unless the pool is exhausted, where the deposit first lifts
         the capped NAV for holders: no shares for what went to them.
    """
    value_before: uint256 = 0
    added: uint256 = 0
    value_before, added = market_math.lp_value_added(m.assets, m.supply, m.raw_nav, m.nav, assets, _VALUE_SCALE)
    if added == 0:
        return 0
    return staticcall ILpToken(lp_token).deposit_shares(added, value_before, _LP_VIRTUAL_SHARES)


@internal
@view
def _lp_withdraw_assets(lp_value: uint256, lp_shares: uint256) -> uint256:
    return staticcall ILpToken(lp_token).shares_value(lp_shares, lp_value, _LP_VIRTUAL_SHARES)


@internal
@view
def _lp_shares_for(lp_value: uint256, assets: uint256) -> uint256:
    """
    @dev LP shares worth `assets`, rounded up (what a payment out of LP value burns).
    """
    return staticcall ILpToken(lp_token).shares_for(assets, lp_value, _LP_VIRTUAL_SHARES)


# ---------------------------------------------------------------- internal: rebalance


@internal
@view
def _due_reason(price: uint256, updated_at: uint256, ref_price: uint256, schedule: Schedule) -> uint8:
    """
    @dev Bit set of why a rebalance is due at `price`, published at `updated_at`;
         0 when it is not. On a pull market the interval must have passed by the
         price's time: a recent slot's price, never one from before it fell due.
    """
    reason: uint8 = 0
    if (updated_at if _PULL else block.timestamp) >= schedule.last_rebalance + schedule.interval:
        reason = constants.REASON_TIME
    move: uint256 = price - ref_price if price >= ref_price else ref_price - price
    if move * WAD >= schedule.threshold * ref_price:
        reason |= constants.REASON_THRESHOLD
    return reason


@internal
@view
def _orders_due(updated_at: uint256, round_id: uint256) -> bool:
    """
    @dev Whether the oldest pending order may already have its round out, so the
         pool must not move to the latest round before settling it: its phase is
         not the latest round's, or the latest round is at or after its T. A
         rebalance takes its place among the orders by its price's time: on a
         pull market (phase 0, round 0) every order whose T is at or before the
         price's publish time settles first, and later ones see the reset pool.
    """
    pending: bool = False
    not_before: uint256 = 0
    phase: uint256 = 0
    pending, not_before, phase = staticcall IOrderBook(order_book).head()
    return pending and (phase != round_id >> 64 or updated_at >= not_before)


@internal
@view
def _rebalance_due() -> bool:
    if self._settings().is_shutdown:
        return False
    ok: bool = False
    response: Bytes[96] = b""
    ok, response = raw_call(oracle, method_id("latest()"), max_outsize=96, is_static_call=True, revert_on_failure=False)
    if not ok or len(response) != 96:
        return False
    price: uint256 = 0
    updated_at: uint256 = 0
    round_id: uint256 = 0
    price, updated_at, round_id = abi_decode(response, (uint256, uint256, uint256))
    if self._orders_due(updated_at, round_id):
        return False
    return self._due_reason(price, updated_at, self._ledger_word >> 128, self._schedule()) != 0


@internal
def _rebalance(receiver: address) -> uint256:
    """
    @dev Resets the exposure at the oracle's latest price (see `rebalance`):
         books the management fee into the reference NAV, pays the bounty out
         of keepers' budget and LP value, applies a queued parameter change
         whose time has come.
    """
    settings: Settings = self._settings()
    assert not settings.is_shutdown, "pool: shut down"
    price: uint256 = 0
    updated_at: uint256 = 0
    round_id: uint256 = 0
    price, updated_at, round_id = staticcall IOracle(oracle).latest()
    assert not self._orders_due(updated_at, round_id), "pool: settle due orders first"
    m: Market = self._market(settings, price, updated_at)
    schedule: Schedule = self._schedule()
    reason: uint8 = self._due_reason(price, updated_at, m.reference_price, schedule)
    assert reason != 0, "pool: rebalance not due"

    # The management fee accrued to the round's time is already in the NAV; the
    # event reports it as the inverse value it moved to LPs.
    before_fee: uint256 = market_math.capped(
        market_math.raw_nav(price, m.reference_price, self.reference_nav, leverage), m.assets, m.supply, _VALUE_SCALE
    )
    fee_assets: uint256 = market_math.inverse_value(m.supply, before_fee, _VALUE_SCALE) - market_math.inverse_value(
        m.supply, m.nav, _VALUE_SCALE
    )
    inverse: uint256 = market_math.inverse_value(m.supply, m.nav, _VALUE_SCALE)
    # Keepers are paid out of a budget that fills by the second, a bounty every
    # BOUNTY_PERIOD, up to BOUNTY_BUDGET, so LPs pay at most a bounty per period
    # however often the market rebalances. A rebalance due by time alone draws
    # only on what is above BOUNTY_RESERVE, kept for a crash: its first threshold
    # rebalances in a row are paid in full. The bounty comes out of LP value,
    # never more than there is.
    budget: uint256 = min(schedule.bounty_budget + block.timestamp - schedule.last_rebalance, constants.BOUNTY_BUDGET)
    spendable: uint256 = budget
    if reason == constants.REASON_TIME:
        spendable = unsafe_sub(max(budget, constants.BOUNTY_RESERVE), constants.BOUNTY_RESERVE)
    bounty: uint256 = min(
        settings.keeper_bounty * min(spendable, constants.BOUNTY_PERIOD) // constants.BOUNTY_PERIOD, m.assets - inverse
    )
    # What the bounty used, rounded up (the LPs' side): never more than `spendable`,
    # since bounty * BOUNTY_PERIOD <= keeper_bounty * spendable.
    if bounty != 0:
        budget -= market_math.ceil_div(bounty * constants.BOUNTY_PERIOD, settings.keeper_bounty)
    schedule.bounty_budget = budget

    self._store_ledger(m.assets - bounty, price)
    # A market nobody holds restarts at 1, so a gap while nobody held cannot end it;
    # so does one at a NAV of 0 with only dust left (DUST_SUPPLY: left behind, or a
    # wei sent to the pool, where no order can burn it).
    new_nav: uint256 = m.nav
    if m.supply == 0 or (m.nav == 0 and m.supply < constants.DUST_SUPPLY):
        new_nav = WAD
    self.reference_nav = new_nav
    schedule.last_rebalance = block.timestamp
    # A queued change applies here, where the management fee is booked to the
    # round, and only at a round from `parameters_ready_at` on: the new terms
    # never reach time before it, and every order requested before it that is
    # due has been settled on the old ones (a rebalance waits for due orders).
    apply: bool = schedule.parameters_ready_at != 0 and updated_at >= schedule.parameters_ready_at
    if apply:
        schedule.parameters_ready_at = 0
    self._store_schedule(schedule)
    terms: Terms = self._terms()
    terms.fee_time = max(updated_at, terms.fee_time)
    self._store_terms(terms)
    if apply:
        self._apply_parameters(self.queued_parameters)
    self._pay(receiver, bounty)
    log IPool.Rebalance(
        keeper=receiver, reason=reason, price=price, nav=new_nav, management_fee=fee_assets, bounty=bounty
    )
    return bounty


# ---------------------------------------------------------------- internal: transfers


@internal
def _push_terms():
    extcall IOrderBook(order_book).set_terms(self._request_terms())


@internal
@view
def _check_order_book():
    assert msg.sender == order_book, "pool: caller is not its book"


@internal
def _pay(receiver: address, assets: uint256):
    """
    @dev Sends collateral; if the collateral refuses (a blocklisted receiver),
         credits it to the receiver's `claimable` instead, so one receiver can
         never hold up the queue. The transfer always gets PAYOUT_GAS: a settler
         who sends too little gas for that reverts, and cannot make a payout fail.
    """
    if assets == 0:
        return
    assert msg.gas > constants.PAYOUT_GAS + constants.PAYOUT_GAS // 63 + 10_000, "pool: out of gas"
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(
        collateral,
        abi_encode(receiver, assets, method_id=method_id("transfer(address,uint256)")),
        max_outsize=32,
        gas=constants.PAYOUT_GAS,
        revert_on_failure=False,
    )
    if ok and (len(response) == 0 or convert(response, bool)):
        return
    self.claimable[receiver] += assets
    self.total_claimable += assets
    log IPool.Claimable(account=receiver, assets=assets)


# ---------------------------------------------------------------- internal: parameters


@internal
@view
def _check_parameters(params: IPool.Parameters):
    """
    @dev Reverts unless every parameter is within its bounds (SPEC 7).
    """
    assert params.interval >= constants.MIN_INTERVAL and params.interval <= constants.MAX_INTERVAL, "pool: interval out of bounds"
    # Below 0.5 / L, a threshold rebalance comes well before the NAV could reach 0.
    assert (
        params.threshold >= constants.MIN_THRESHOLD
        and params.threshold <= constants.MAX_THRESHOLD
        and params.threshold * leverage <= WAD * WAD // 2
    ), "pool: threshold out of bounds"
    assert params.mint_fee <= constants.MAX_TRADE_FEE, "pool: mint fee out of bounds"
    assert params.redeem_fee <= constants.MAX_TRADE_FEE, "pool: redeem fee out of bounds"
    assert params.management_fee <= constants.MAX_MANAGEMENT_FEE, "pool: management fee above 10%"
    assert params.keeper_bounty <= constants.MAX_KEEPER_BOUNTY_UNITS * _COLLATERAL_UNIT, "pool: keeper bounty too high"
    assert params.min_backing >= constants.MIN_MIN_BACKING and params.min_backing <= constants.MAX_MIN_BACKING, "pool: min backing out of bounds"
    assert params.settle_fee <= constants.MAX_SETTLE_FEE_UNITS * _COLLATERAL_UNIT, "pool: settle fee out of bounds"
    # A pull market's prices tick every second (SPEC 3b); a push feed's rounds come minutes apart.
    min_min_delay: uint256 = constants.MIN_PULL_MIN_DELAY if _PULL else constants.MIN_MIN_DELAY
    assert params.min_delay >= min_min_delay and params.min_delay <= constants.MAX_MIN_DELAY, "pool: min delay out of bounds"
    assert params.max_wait >= constants.MIN_MAX_WAIT and params.max_wait <= constants.MAX_MAX_WAIT, "pool: max wait out of bounds"
    assert params.min_order <= constants.MAX_MIN_ORDER_UNITS * _COLLATERAL_UNIT, "pool: min order out of bounds"


@internal
def _apply_parameters(params: IPool.Parameters):
    settings: Settings = self._settings()
    settings.mint_fee = params.mint_fee
    settings.redeem_fee = params.redeem_fee
    settings.min_backing = params.min_backing
    settings.keeper_bounty = params.keeper_bounty
    self._store_settings(settings)
    schedule: Schedule = self._schedule()
    schedule.interval = params.interval
    schedule.threshold = params.threshold
    schedule.management_fee = params.management_fee
    self._store_schedule(schedule)
    terms: Terms = self._terms()
    terms.settle_fee = params.settle_fee
    terms.min_delay = params.min_delay
    terms.max_wait = params.max_wait
    terms.min_order = params.min_order
    self._store_terms(terms)
    self._push_terms()
    log IPool.ParametersUpdated(
        interval=params.interval,
        threshold=params.threshold,
        mint_fee=params.mint_fee,
        redeem_fee=params.redeem_fee,
        management_fee=params.management_fee,
        keeper_bounty=params.keeper_bounty,
        min_backing=params.min_backing,
        settle_fee=params.settle_fee,
        min_delay=params.min_delay,
        max_wait=params.max_wait,
        min_order=params.min_order,
    )


@internal
def _set_guardian(new_guardian: address):
    log IPool.GuardianUpdated(previous_guardian=self.guardian, new_guardian=new_guardian)
    self.guardian = new_guardian


# ---------------------------------------------------------------- packed storage


@internal
@view
def _settings() -> Settings:
    word: uint256 = self._settings_word
    return Settings(
        paused=word & _PAUSED != 0,
        is_shutdown=word & _SHUT_DOWN != 0,
        shutdown_requested=word & _SHUTDOWN_REQUESTED != 0,
        mint_fee=(word >> 8) & _MASK_56,
        redeem_fee=(word >> 64) & _MASK_56,
        min_backing=(word >> 120) & _MASK_64,
        keeper_bounty=word >> 184,
    )


@internal
def _store_settings(settings: Settings):
    # Each field is bounded by `_check_parameters` to fit (see the layout above);
    # asserted here too, as a wider value would spill into the next field (no
    # message: nothing a caller sends can reach it).
    assert (
        settings.mint_fee | settings.redeem_fee <= _MASK_56
        and settings.min_backing <= _MASK_64
        and settings.keeper_bounty <= _MASK_72
    )
    word: uint256 = (
        settings.mint_fee << 8
        | settings.redeem_fee << 64
        | settings.min_backing << 120
        | settings.keeper_bounty << 184
    )
    if settings.paused:
        word |= _PAUSED
    if settings.is_shutdown:
        word |= _SHUT_DOWN
    if settings.shutdown_requested:
        word |= _SHUTDOWN_REQUESTED
    self._settings_word = word


@internal
@view
def _schedule() -> Schedule:
    word: uint256 = self._schedule_word
    return Schedule(
        last_rebalance=word & _MASK_40,
        bounty_budget=(word >> 40) & _MASK_24,
        interval=(word >> 64) & _MASK_24,
        parameters_ready_at=(word >> 88) & _MASK_40,
        threshold=(word >> 128) & _MASK_64,
        management_fee=word >> 192,
    )


@internal
def _store_schedule(schedule: Schedule):
    # A timestamp fits 40 bits until the year 36812, the bounty budget 24 bits
    # (at most BOUNTY_BUDGET); the parameters are bounded by `_check_parameters`
    # (7 days < 2**24). Asserted here too, as in `_store_settings`.
    assert (
        schedule.last_rebalance | schedule.parameters_ready_at <= _MASK_40
        and schedule.bounty_budget | schedule.interval <= _MASK_24
        and schedule.threshold | schedule.management_fee <= _MASK_64
    )
    self._schedule_word = (
        schedule.last_rebalance
        | schedule.bounty_budget << 40
        | schedule.interval << 64
        | schedule.parameters_ready_at << 88
        | schedule.threshold << 128
        | schedule.management_fee << 192
    )


@internal
@view
def _terms() -> Terms:
    word: uint256 = self._terms_word
    return Terms(
        settle_fee=word & _MASK_72,
        min_delay=(word >> 72) & _MASK_24,
        max_wait=(word >> 96) & _MASK_24,
        min_order=(word >> 120) & _MASK_80,
        fee_time=word >> 200,
    )


@internal
def _store_terms(terms: Terms):
    # Bounded by `_check_parameters`: 5 units of 18 decimals < 2**72, an hour and
    # two days < 2**24, 10,000 units < 2**80; a round time fits 56 bits. Asserted
    # here too, as in `_store_settings`.
    assert (
        terms.settle_fee <= _MASK_72
        and terms.min_delay | terms.max_wait <= _MASK_24
        and terms.min_order <= _MASK_80
        and terms.fee_time <= _MASK_56
    )
    self._terms_word = (
        terms.settle_fee
        | terms.min_delay << 72
        | terms.max_wait << 96
        | terms.min_order << 120
        | terms.fee_time << 200
    )


@internal
def _store_ledger(total_assets: uint256, reference_price: uint256):
    assert total_assets | reference_price <= _MASK_128, "pool: assets or price too large"
    self._ledger_word = total_assets | reference_price << 128
