# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Inverse token pool
@license MIT
@author Inverse token contributors
@notice One market: an underlying price feed, a collateral token and a leverage L.
        The pool holds all collateral and is itself the inverse ERC-20: each token
        is worth the live NAV, which moves -L times the price between rebalances:

            nav = reference_nav * max(0, 1 - L * (price - reference_price) / reference_price)

        capped at total_assets / totalSupply. Liquidity providers own the rest
        (`lp_value = total_assets - inverse_value`), take the other side and earn
        the fees. A permissionless `rebalance`, due daily or when the price has
        moved past the threshold, resets the reference and so the exposure.
@custom:security Trusts the oracle adapter for prices and the collateral to be a
        plain ERC-20 (fee-on-transfer tokens are refused by balance checks). The
        owner sets bounded parameters and can shut down; the guardian can pause
        new risk. Neither can move user funds. Assets are tracked internally, so
        donations change nothing. The `*_with_permit` functions apply only the
        caller's own permit on the collateral.
@custom:kill `pause` (guardian or owner) stops mint and LP deposit while redeem,
        LP withdraw and rebalance stay open. `shutdown` (owner, irreversible)
        settles the NAV once; afterwards holders and LPs exit without the oracle.
"""

from ethereum.ercs import IERC20
from ethereum.ercs import IERC20Detailed
from snekmate.auth import ownable
from snekmate.auth import ownable_2step
from snekmate.tokens import erc20

from .interfaces import ILpToken
from .interfaces import IOracle
from .interfaces import IInstantPool as IPool
from . import constants

implements: IPool

initializes: ownable
initializes: ownable_2step[ownable := ownable]
initializes: erc20[ownable := ownable]

# Left out on purpose: `erc20.mint`, `erc20.burn`, `erc20.burn_from`,
# `erc20.set_minter`, `erc20.is_minter` (tokens are created and destroyed only by
# `mint` and `redeem` at the NAV) and `erc20`'s ownership functions (ownership is
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

# The price adapter (see `ChainlinkOracle.vy`).
oracle: public(immutable(address))

# The LP share token, created by this pool from a blueprint.
lp_token: public(immutable(address))

# Leverage L (WAD): the token moves -L times the underlying between rebalances.
leverage: public(immutable(uint256))

# Collateral (own decimals) = tokens * nav / _VALUE_SCALE, i.e. 10**(36 - decimals).
_VALUE_SCALE: immutable(uint256)

# Virtual LP shares (and one virtual asset) against first-depositor inflation;
# 10**(18 - decimals) also makes one LP share worth about one collateral unit.
_LP_VIRTUAL_SHARES: immutable(uint256)

# One whole collateral unit (10**decimals): the keeper bounty bound is in units.
_COLLATERAL_UNIT: immutable(uint256)

# ---------------------------------------------------------------- storage
# Vyper gives every variable a slot of its own, and the first read of a slot in a
# transaction costs 2,100 gas. So the values one operation reads together share a
# word, packed by hand and decoded once per call:
#
#   _ledger_word    total_assets (bits 0-127), reference_price (128-255)
#   _settings_word  paused (bit 0), is_shutdown (bit 1), mint_fee (bits 8-63),
#                   redeem_fee (64-119), min_backing (120-183),
#                   keeper_bounty (184-255)
#   _schedule_word  last_rebalance (bits 0-63), interval (64-127),
#                   threshold (128-191), management_fee (192-255)
#
# Each parameter's bound fits its field: trade fees <= 1e16 < 2**56, min_backing
# <= 5e18 < 2**64, keeper_bounty <= 100 units of 18 decimals < 2**72, the rest
# far below 2**64. total_assets and reference_price are checked against 128 bits
# when written. Each has a getter of its own name below.

_ledger_word: uint256
_settings_word: uint256
_schedule_word: uint256

# NAV at the last rebalance (n0, WAD), after the management fee. After shutdown:
# the settled NAV. A word of its own: repeated gains can grow it past 128 bits.
reference_nav: public(uint256)

# May pause (not unpause): a fast-response key for new risk only.
guardian: public(address)

_MASK_56: constant(uint256) = 2**56 - 1
_MASK_64: constant(uint256) = 2**64 - 1
_MASK_128: constant(uint256) = 2**128 - 1
_PAUSED: constant(uint256) = 1
_SHUT_DOWN: constant(uint256) = 2


# `_settings_word`, decoded: what mint, redeem and the LP functions check.
struct Settings:
    # True while mint and LP deposit are stopped.
    paused: bool
    # True once the owner has shut the market down (irreversible).
    is_shutdown: bool
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
    # Seconds between scheduled rebalances.
    interval: uint256
    # Price move |P - P0| / P0 (WAD) that makes a rebalance due.
    threshold: uint256
    # Yearly management fee (WAD), holders to LPs, accrued at each rebalance.
    management_fee: uint256


# Everything one operation needs to know about the market, read once.
struct Market:
    # Tracked collateral (A).
    assets: uint256
    # Inverse token supply (S).
    supply: uint256
    # Oracle price at the last rebalance (P0).
    reference_price: uint256
    # Oracle price, or 0 after shutdown (not read).
    price: uint256
    # NAV before the cap at assets / supply.
    raw_nav: uint256
    # Live NAV: raw_nav capped at assets / supply.
    nav: uint256


@deploy
def __init__(
    name_: String[25],
    symbol_: String[5],
    collateral_: address,
    oracle_: address,
    leverage_: uint256,
    lp_blueprint: address,
    lp_name: String[25],
    lp_symbol: String[5],
    guardian_: address,
    params: IPool.Parameters,
):
    """
    @notice Creates a market. Reads the collateral's decimals and the current
            oracle price (which must be valid) as the first reference.
    @param name_ Inverse token name, also its EIP-712 domain name.
    @param symbol_ Inverse token symbol.
    @param collateral_ The collateral ERC-20 (up to 18 decimals, no transfer fee).
    @param oracle_ The price adapter.
    @param leverage_ L as a WAD, between 0.5 and 5.
    @param lp_blueprint An EIP-5202 blueprint of `LpToken.vy`.
    @param lp_name LP token name.
    @param lp_symbol LP token symbol.
    @param guardian_ The address allowed to pause.
    @param params Initial parameters, checked against their bounds.
    """
    assert collateral_ != empty(address), "pool: zero collateral"
    assert oracle_ != empty(address), "pool: zero oracle"
    assert leverage_ >= constants.MIN_LEVERAGE and leverage_ <= constants.MAX_LEVERAGE, "pool: leverage out of bounds"
    collateral_decimals: uint8 = staticcall IERC20Detailed(collateral_).decimals()
    assert collateral_decimals <= constants.MAX_COLLATERAL_DECIMALS, "pool: collateral decimals above 18"

    ownable.__init__()
    ownable_2step.__init__()
    erc20.__init__(name_, symbol_, 18, name_, "1")

    collateral = collateral_
    oracle = oracle_
    leverage = leverage_
    _COLLATERAL_UNIT = 10 ** convert(collateral_decimals, uint256)
    _VALUE_SCALE = 10 ** convert(36 - collateral_decimals, uint256)
    _LP_VIRTUAL_SHARES = 10 ** convert(18 - collateral_decimals, uint256)
    lp_token = create_from_blueprint(lp_blueprint, lp_name, lp_symbol)

    self._set_parameters(params)
    self._set_guardian(guardian_)
    self._store_ledger(0, staticcall IOracle(oracle_).price())
    self.reference_nav = WAD
    schedule: Schedule = self._schedule()
    schedule.last_rebalance = block.timestamp
    self._store_schedule(schedule)


# ---------------------------------------------------------------- holders


@external
def mint(assets: uint256, min_shares_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @notice Pays in collateral for inverse tokens at the live NAV, less the mint fee.
    @param assets Collateral to pay in (needs an allowance).
    @param min_shares_out Fewest tokens accepted (slippage bound).
    @param receiver Who gets the tokens.
    @param deadline Last timestamp at which the call may execute.
    @return uint256 The tokens minted.
    """
    return self._mint_tokens(assets, min_shares_out, receiver, deadline)


@external
def mint_with_permit(
    assets: uint256, min_shares_out: uint256, receiver: address, deadline: uint256, v: uint8, r: bytes32, s: bytes32
) -> uint256:
    """
    @notice `mint` with no approval transaction: first applies the caller's
            EIP-2612 permit on the collateral for `assets`, valid until `deadline`.
    @param assets Collateral to pay in.
    @param min_shares_out Fewest tokens accepted (slippage bound).
    @param receiver Who gets the tokens.
    @param deadline Last timestamp at which the call (and the permit) may execute.
    @param v The permit signature's v.
    @param r The permit signature's r.
    @param s The permit signature's s.
    @return uint256 The tokens minted.
    """
    self._permit_collateral(assets, deadline, v, r, s)
    return self._mint_tokens(assets, min_shares_out, receiver, deadline)


@internal
def _mint_tokens(assets: uint256, min_shares_out: uint256, receiver: address, deadline: uint256) -> uint256:
    settings: Settings = self._settings()
    self._check_open(settings)
    self._check_request(assets, receiver, deadline)
    m: Market = self._market(settings.is_shutdown)
    assert m.nav != 0, "pool: nav is zero"
    assert m.nav == m.raw_nav, "pool: exhausted"
    fee: uint256 = self._fee(assets, settings.mint_fee)
    shares: uint256 = (assets - fee) * _VALUE_SCALE // m.nav
    assert shares != 0, "pool: zero shares"
    assert assets <= self._mint_capacity(m, settings), "pool: exceeds max mint"
    assert shares >= min_shares_out, "pool: slippage"

    self._pull(assets)
    self._store_ledger(m.assets + assets, m.reference_price)
    erc20._mint(receiver, shares)
    log IPool.Mint(sender=msg.sender, receiver=receiver, assets=assets, shares=shares, fee=fee, nav=m.nav)
    return shares


@external
def redeem(shares: uint256, min_assets_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @notice Burns the caller's inverse tokens for collateral at the live NAV, less
            the redeem fee. Open while paused; after shutdown it needs no oracle.
    @param shares Tokens to redeem.
    @param min_assets_out Least collateral accepted (slippage bound).
    @param receiver Who gets the collateral.
    @param deadline Last timestamp at which the call may execute.
    @return uint256 The collateral paid out.
    """
    self._check_request(shares, receiver, deadline)
    assert shares <= erc20.balanceOf[msg.sender], "pool: redeem exceeds balance"
    settings: Settings = self._settings()
    m: Market = self._market(settings.is_shutdown)
    assets: uint256 = 0
    fee: uint256 = 0
    assets, fee = self._redeem_amounts(shares, m.nav, settings.redeem_fee)
    assert assets >= min_assets_out, "pool: slippage"

    erc20._burn(msg.sender, shares)
    self._store_ledger(m.assets - assets, m.reference_price)
    self._push(receiver, assets)
    log IPool.Redeem(sender=msg.sender, receiver=receiver, shares=shares, assets=assets, fee=fee, nav=m.nav)
    return assets


@external
@view
def preview_mint(assets: uint256) -> uint256:
    """
    @notice Tokens `mint(assets, ...)` would give now, fee included (0 if the NAV
            is zero). Limits (`max_mint`, pause) are not applied.
    @param assets Collateral paid in.
    @return uint256 Tokens out.
    """
    settings: Settings = self._settings()
    m: Market = self._market(settings.is_shutdown)
    if m.nav == 0:
        return 0
    return (assets - self._fee(assets, settings.mint_fee)) * _VALUE_SCALE // m.nav


@external
@view
def preview_redeem(shares: uint256) -> uint256:
    """
    @notice Collateral `redeem(shares, ...)` would pay now, fee included.
    @param shares Tokens redeemed.
    @return uint256 Collateral out.
    """
    settings: Settings = self._settings()
    m: Market = self._market(settings.is_shutdown)
    assets: uint256 = 0
    fee: uint256 = 0
    assets, fee = self._redeem_amounts(shares, m.nav, settings.redeem_fee)
    return assets


@external
@view
def max_mint() -> uint256:
    """
    @notice The most collateral a mint can take now without breaking the backing
            rule (`lp_value >= min_backing * inverse_value` afterwards); 0 while
            paused, shut down, exhausted or at a zero NAV.
    @return uint256 Collateral, in its own decimals.
    """
    settings: Settings = self._settings()
    if settings.paused or settings.is_shutdown:
        return 0
    m: Market = self._market(False)
    if m.nav == 0 or m.nav != m.raw_nav:
        return 0
    return self._mint_capacity(m, settings)


# ---------------------------------------------------------------- liquidity providers


@external
def lp_deposit(assets: uint256, min_lp_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @notice Adds collateral to the LP side for LP shares. Into an exhausted pool
            part of it first restores what holders are owed (recapitalisation),
            and only what reaches LP value earns shares.
    @param assets Collateral to pay in (needs an allowance).
    @param min_lp_out Fewest LP shares accepted (slippage bound).
    @param receiver Who gets the LP shares.
    @param deadline Last timestamp at which the call may execute.
    @return uint256 The LP shares minted.
    """
    return self._deposit_lp(assets, min_lp_out, receiver, deadline)


@external
def lp_deposit_with_permit(
    assets: uint256, min_lp_out: uint256, receiver: address, deadline: uint256, v: uint8, r: bytes32, s: bytes32
) -> uint256:
    """
    @notice `lp_deposit` with no approval transaction: first applies the caller's
            EIP-2612 permit on the collateral for `assets`, valid until `deadline`.
    @param assets Collateral to pay in.
    @param min_lp_out Fewest LP shares accepted (slippage bound).
    @param receiver Who gets the LP shares.
    @param deadline Last timestamp at which the call (and the permit) may execute.
    @param v The permit signature's v.
    @param r The permit signature's r.
    @param s The permit signature's s.
    @return uint256 The LP shares minted.
    """
    self._permit_collateral(assets, deadline, v, r, s)
    return self._deposit_lp(assets, min_lp_out, receiver, deadline)


@internal
def _deposit_lp(assets: uint256, min_lp_out: uint256, receiver: address, deadline: uint256) -> uint256:
    settings: Settings = self._settings()
    self._check_open(settings)
    self._check_request(assets, receiver, deadline)
    m: Market = self._market(settings.is_shutdown)
    lp_shares: uint256 = self._lp_deposit_shares(m, assets)
    assert lp_shares != 0, "pool: zero shares"
    assert lp_shares >= min_lp_out, "pool: slippage"

    self._pull(assets)
    self._store_ledger(m.assets + assets, m.reference_price)
    extcall ILpToken(lp_token).mint(receiver, lp_shares)
    log IPool.LpDeposit(sender=msg.sender, receiver=receiver, assets=assets, lp_shares=lp_shares)
    return lp_shares


@external
def lp_withdraw(lp_shares: uint256, min_assets_out: uint256, receiver: address, deadline: uint256) -> uint256:
    """
    @notice Burns the caller's LP shares for their part of the LP value, as long
            as the backing rule holds afterwards while holders remain (lifted after
            shutdown). Open while paused.
    @param lp_shares LP shares to burn.
    @param min_assets_out Least collateral accepted (slippage bound).
    @param receiver Who gets the collateral.
    @param deadline Last timestamp at which the call may execute.
    @return uint256 The collateral paid out.
    """
    self._check_request(lp_shares, receiver, deadline)
    assert lp_shares <= staticcall ILpToken(lp_token).balanceOf(msg.sender), "pool: withdraw exceeds balance"
    settings: Settings = self._settings()
    m: Market = self._market(settings.is_shutdown)
    inverse: uint256 = self._inverse_value(m.supply, m.nav)
    assets: uint256 = self._lp_withdraw_assets(m.assets - inverse, lp_shares)
    assert assets <= self._lp_withdraw_capacity(m.assets - inverse, inverse, settings), "pool: insufficient backing"
    assert assets >= min_assets_out, "pool: slippage"

    extcall ILpToken(lp_token).burn(msg.sender, lp_shares)
    self._store_ledger(m.assets - assets, m.reference_price)
    self._push(receiver, assets)
    log IPool.LpWithdraw(sender=msg.sender, receiver=receiver, lp_shares=lp_shares, assets=assets)
    return assets


@external
@view
def preview_lp_deposit(assets: uint256) -> uint256:
    """
    @notice LP shares `lp_deposit(assets, ...)` would give now.
    @param assets Collateral paid in.
    @return uint256 LP shares out.
    """
    return self._lp_deposit_shares(self._live_market(), assets)


@external
@view
def preview_lp_withdraw(lp_shares: uint256) -> uint256:
    """
    @notice Collateral `lp_withdraw(lp_shares, ...)` would pay now (the backing
            rule is not applied: see `max_lp_withdraw`).
    @param lp_shares LP shares burned.
    @return uint256 Collateral out.
    """
    m: Market = self._live_market()
    return self._lp_withdraw_assets(m.assets - self._inverse_value(m.supply, m.nav), lp_shares)


@external
@view
def max_lp_withdraw() -> uint256:
    """
    @notice The most collateral LPs together can withdraw now under the backing rule.
    @return uint256 Collateral, in its own decimals.
    """
    settings: Settings = self._settings()
    m: Market = self._market(settings.is_shutdown)
    inverse: uint256 = self._inverse_value(m.supply, m.nav)
    return self._lp_withdraw_capacity(m.assets - inverse, inverse, settings)


# ---------------------------------------------------------------- rebalance


@external
def rebalance() -> uint256:
    """
    @notice Resets the exposure when due (interval elapsed or price moved past the
            threshold): accrues the management fee, makes the current price and
            NAV the new reference and pays the caller the keeper bounty.
    @return uint256 The bounty paid, in collateral.
    """
    return self._rebalance()


@external
@view
def rebalance_due() -> bool:
    """
    @notice Whether `rebalance()` would succeed now. False (not a revert) while
            the oracle has no valid price or after shutdown.
    @return bool True when due.
    """
    return self._rebalance_due()


@external
@view
def checkUpkeep(check_data: Bytes[1024]) -> (bool, Bytes[32]):
    """
    @notice Chainlink Automation: whether `performUpkeep` should be called.
    @param check_data Ignored.
    @return bool Whether a rebalance is due.
    @return Bytes[32] Empty perform data.
    """
    return self._rebalance_due(), b""


@external
def performUpkeep(perform_data: Bytes[1024]):
    """
    @notice Chainlink Automation: rebalances if (re-checked) due, else reverts
            and changes nothing, so a repeated call is harmless.
    @param perform_data Ignored.
    """
    self._rebalance()


# ---------------------------------------------------------------- views


@external
@view
def nav() -> uint256:
    """
    @notice Live NAV: collateral per whole token, as a WAD of whole collateral units.
    @return uint256 The NAV.
    """
    return self._live_market().nav


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
def inverse_value() -> uint256:
    """
    @notice What all inverse tokens are worth now, rounded up (the pool's obligation).
    @return uint256 Collateral, in its own decimals.
    """
    m: Market = self._live_market()
    return self._inverse_value(m.supply, m.nav)


@external
@view
def lp_value() -> uint256:
    """
    @notice What the LP side owns now: total assets less the inverse value.
    @return uint256 Collateral, in its own decimals.
    """
    m: Market = self._live_market()
    return m.assets - self._inverse_value(m.supply, m.nav)


@external
@view
def total_assets() -> uint256:
    """
    @notice Collateral the pool accounts for (A). Never read from `balanceOf`,
            so donations change nothing.
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
def interval() -> uint256:
    """
    @notice Seconds between scheduled rebalances.
    @return uint256 Seconds.
    """
    return self._schedule().interval


@external
@view
def threshold() -> uint256:
    """
    @notice Price move |P - P0| / P0 that makes a rebalance due.
    @return uint256 WAD fraction.
    """
    return self._schedule().threshold


@external
@view
def management_fee() -> uint256:
    """
    @notice Yearly fee from holders to LPs, accrued at each rebalance.
    @return uint256 WAD fraction a year.
    """
    return self._schedule().management_fee


@external
@view
def mint_fee() -> uint256:
    """
    @notice Fee on mint, a fraction of the collateral paid in; goes to LPs.
    @return uint256 WAD fraction.
    """
    return self._settings().mint_fee


@external
@view
def redeem_fee() -> uint256:
    """
    @notice Fee on redeem, a fraction of the gross payout; goes to LPs.
    @return uint256 WAD fraction.
    """
    return self._settings().redeem_fee


@external
@view
def min_backing() -> uint256:
    """
    @notice LP value required per unit of inverse value after a mint or LP withdrawal.
    @return uint256 WAD ratio.
    """
    return self._settings().min_backing


@external
@view
def keeper_bounty() -> uint256:
    """
    @notice Collateral paid from LP value to whoever rebalances.
    @return uint256 Collateral, in its own decimals.
    """
    return self._settings().keeper_bounty


@external
@view
def paused() -> bool:
    """
    @notice True while mint and LP deposit are stopped.
    @return bool Whether paused.
    """
    return self._settings().paused


@external
@view
def is_shutdown() -> bool:
    """
    @notice True once the owner has shut the market down (irreversible).
    @return bool Whether shut down.
    """
    return self._settings().is_shutdown


# ---------------------------------------------------------------- admin


@external
def pause():
    """
    @notice Stops mint and LP deposit. Redeem, LP withdraw and rebalance stay open.
    """
    assert msg.sender == self.guardian or msg.sender == ownable.owner, "pool: caller is not the guardian"
    settings: Settings = self._settings()
    assert not settings.paused, "pool: already paused"
    settings.paused = True
    self._store_settings(settings)
    log IPool.Paused(account=msg.sender)


@external
def unpause():
    """
    @notice Lets mint and LP deposit resume (owner only).
    """
    ownable._check_owner()
    settings: Settings = self._settings()
    assert settings.paused, "pool: not paused"
    settings.paused = False
    self._store_settings(settings)
    log IPool.Unpaused(account=msg.sender)


@external
def shutdown():
    """
    @notice Ends the market for good: settles the NAV once at the current price
            (at the last reference NAV if the oracle has no valid price). Then
            redeem and LP withdraw work without the oracle; mint, LP deposit and
            rebalance are off.
    """
    ownable._check_owner()
    settings: Settings = self._settings()
    assert not settings.is_shutdown, "pool: shut down"
    m: Market = self._market(True)  # priced at the last reference NAV
    valid: bool = False
    valid, m.price = self._try_price()
    if valid:
        m.raw_nav = self._raw_nav(m.price, m.reference_price, m.raw_nav)
        m.nav = self._capped(m)
        self._store_ledger(m.assets, m.price)
    self.reference_nav = m.nav
    settings.is_shutdown = True
    self._store_settings(settings)
    log IPool.Shutdown(account=msg.sender, price=m.price, nav=m.nav)


@external
def set_parameters(params: IPool.Parameters):
    """
    @notice Sets the fees and rebalance parameters, each within its on-chain bounds.
    @param params The new parameters (all of them).
    """
    ownable._check_owner()
    assert not self._settings().is_shutdown, "pool: shut down"
    self._set_parameters(params)


@external
def set_guardian(new_guardian: address):
    """
    @notice Names the address allowed to pause (the zero address: nobody but the owner).
    @param new_guardian The new guardian.
    """
    ownable._check_owner()
    self._set_guardian(new_guardian)


# ---------------------------------------------------------------- internal


@internal
@pure
def _check_open(settings: Settings):
    assert not settings.paused, "pool: paused"
    assert not settings.is_shutdown, "pool: shut down"


@internal
@view
def _check_request(amount: uint256, receiver: address, deadline: uint256):
    assert amount != 0, "pool: zero amount"
    assert receiver != empty(address), "pool: zero receiver"
    assert block.timestamp <= deadline, "pool: deadline passed"


@internal
@view
def _market(is_shutdown: bool) -> Market:
    """
    @dev Reads the state once and prices it; reverts with the oracle's reason
         unless shut down (then the settled NAV stands, no oracle needed).
    """
    ledger: uint256 = self._ledger_word
    m: Market = Market(
        assets=ledger & _MASK_128,
        supply=erc20.totalSupply,
        reference_price=ledger >> 128,
        price=0,
        raw_nav=self.reference_nav,
        nav=0,
    )
    if not is_shutdown:
        m.price = staticcall IOracle(oracle).price()
        m.raw_nav = self._raw_nav(m.price, m.reference_price, m.raw_nav)
    m.nav = self._capped(m)
    return m


@internal
@view
def _live_market() -> Market:
    return self._market(self._settings().is_shutdown)


@internal
@view
def _raw_nav(price: uint256, ref_price: uint256, ref_nav: uint256) -> uint256:
    """
    @dev n0 * max(0, 1 - L * (P - P0) / P0). The relative move is rounded against
         holders (a loss up, a gain down), then the NAV down.
    """
    if price >= ref_price:
        loss: uint256 = self._ceil_div(leverage * (price - ref_price), ref_price)
        if loss >= WAD:
            return 0
        return ref_nav * (WAD - loss) // WAD
    gain: uint256 = leverage * (ref_price - price) // ref_price
    return ref_nav * (WAD + gain) // WAD


@internal
@view
def _capped(m: Market) -> uint256:
    """
    @dev Holders can never be owed more than the pool holds: nav <= A / S.
    """
    if m.supply == 0:
        return m.raw_nav
    return min(m.raw_nav, m.assets * _VALUE_SCALE // m.supply)


@internal
@view
def _inverse_value(supply: uint256, nav: uint256) -> uint256:
    """
    @dev S * n, in collateral, rounded up: it is what the pool owes.
    """
    return self._ceil_div(supply * nav, _VALUE_SCALE)


@internal
@pure
def _fee(amount: uint256, rate: uint256) -> uint256:
    """
    @dev Fees are owed by the user: rounded up.
    """
    return (amount * rate + WAD - 1) // WAD


@internal
@pure
def _ceil_div(x: uint256, y: uint256) -> uint256:
    return (x + y - 1) // y


@internal
@view
def _redeem_amounts(shares: uint256, nav: uint256, fee_rate: uint256) -> (uint256, uint256):
    """
    @dev Gross payout rounded down, fee rounded up; returns (net, fee).
    """
    gross: uint256 = shares * nav // _VALUE_SCALE
    fee: uint256 = self._fee(gross, fee_rate)
    return gross - fee, fee


@internal
@view
def _mint_capacity(m: Market, settings: Settings) -> uint256:
    """
    @dev Largest `a` with (V + fee) * WAD >= b * (I + a - fee), fee = a * f, for LP
         value V, inverse value I, backing b, fee rate f:
         a <= WAD * (V * WAD - b * I) / (b * (WAD - f) - f * WAD). Rounding of the
         real fee (up) and of the minted value (down) only adds backing, so a
         mint of this size always satisfies the rule. The bounds keep the
         denominator positive (b >= 0.1, f <= 1%).
    """
    inverse: uint256 = self._inverse_value(m.supply, m.nav)
    surplus: uint256 = (m.assets - inverse) * WAD
    backing: uint256 = settings.min_backing
    fee_rate: uint256 = settings.mint_fee
    required: uint256 = backing * inverse
    if surplus <= required:
        return 0
    return WAD * (surplus - required) // (backing * (WAD - fee_rate) - fee_rate * WAD)


@internal
@view
def _lp_withdraw_capacity(lp_value: uint256, inverse: uint256, settings: Settings) -> uint256:
    """
    @dev LP value above `min_backing * inverse`; all of it after shutdown, when
         prices no longer move and holders' claim is fixed.
    """
    if settings.is_shutdown:
        return lp_value
    required: uint256 = self._ceil_div(settings.min_backing * inverse, WAD)
    if lp_value <= required:
        return 0
    return lp_value - required


@internal
@view
def _lp_deposit_shares(m: Market, assets: uint256) -> uint256:
    """
    @dev Shares for the LP value the deposit adds, at the pre-deposit share price
         with the virtual offset. That is all of `assets` unless the pool is
         exhausted, where the deposit first lifts the capped NAV for holders.
    """
    value_before: uint256 = m.assets - self._inverse_value(m.supply, m.nav)
    after: Market = m
    after.assets = m.assets + assets
    after.nav = self._capped(after)
    value_after: uint256 = after.assets - self._inverse_value(after.supply, after.nav)
    # Exhausted, a small deposit can go wholly to holders; the cap's rounding can
    # then even leave LP value a few wei lower. No shares for that.
    if value_after <= value_before:
        return 0
    lp_supply: uint256 = staticcall ILpToken(lp_token).totalSupply()
    return (value_after - value_before) * (lp_supply + _LP_VIRTUAL_SHARES) // (value_before + 1)


@internal
@view
def _lp_withdraw_assets(lp_value: uint256, lp_shares: uint256) -> uint256:
    lp_supply: uint256 = staticcall ILpToken(lp_token).totalSupply()
    return lp_shares * (lp_value + 1) // (lp_supply + _LP_VIRTUAL_SHARES)


@internal
@view
def _due_reason(price: uint256, ref_price: uint256, schedule: Schedule) -> uint8:
    """
    @dev Bit set of why a rebalance is due at `price`; 0 when it is not.
    """
    reason: uint8 = 0
    if block.timestamp >= schedule.last_rebalance + schedule.interval:
        reason = constants.REASON_TIME
    move: uint256 = price - ref_price if price >= ref_price else ref_price - price
    if move * WAD >= schedule.threshold * ref_price:
        reason |= constants.REASON_THRESHOLD
    return reason


@internal
@view
def _try_price() -> (bool, uint256):
    """
    @dev The oracle price without reverting: (False, 0) while it has none.
    """
    ok: bool = False
    response: Bytes[32] = b""
    ok, response = raw_call(
        oracle, method_id("price()"), max_outsize=32, is_static_call=True, revert_on_failure=False
    )
    if not ok or len(response) != 32:
        return False, 0
    return True, abi_decode(response, uint256)


@internal
@view
def _rebalance_due() -> bool:
    if self._settings().is_shutdown:
        return False
    valid: bool = False
    price: uint256 = 0
    valid, price = self._try_price()
    return valid and self._due_reason(price, self._ledger_word >> 128, self._schedule()) != 0


@internal
def _rebalance() -> uint256:
    settings: Settings = self._settings()
    assert not settings.is_shutdown, "pool: shut down"
    m: Market = self._market(False)
    schedule: Schedule = self._schedule()
    reason: uint8 = self._due_reason(m.price, m.reference_price, schedule)
    assert reason != 0, "pool: rebalance not due"

    # Management fee, pro rata to the time since the last rebalance, rounded
    # against holders; it stays in the pool as LP value.
    elapsed: uint256 = block.timestamp - schedule.last_rebalance
    fee_rate: uint256 = min(self._ceil_div(schedule.management_fee * elapsed, constants.YEAR), WAD)
    new_nav: uint256 = m.nav * (WAD - fee_rate) // WAD
    inverse: uint256 = self._inverse_value(m.supply, new_nav)
    fee_assets: uint256 = self._inverse_value(m.supply, m.nav) - inverse

    # The bounty comes out of LP value, never more than there is.
    bounty: uint256 = min(settings.keeper_bounty, m.assets - inverse)

    self._store_ledger(m.assets - bounty, m.price)
    self.reference_nav = new_nav
    schedule.last_rebalance = block.timestamp
    self._store_schedule(schedule)
    self._push(msg.sender, bounty)
    log IPool.Rebalance(
        keeper=msg.sender, reason=reason, price=m.price, nav=new_nav, management_fee=fee_assets, bounty=bounty
    )
    return bounty


@internal
def _pull(assets: uint256):
    """
    @dev transferFrom the caller, accepting tokens that return no bool, and
         refusing any that delivers less than asked (fee-on-transfer).
    """
    balance_before: uint256 = staticcall IERC20(collateral).balanceOf(self)
    assert extcall IERC20(collateral).transferFrom(msg.sender, self, assets, default_return_value=True), "pool: transfer failed"
    balance_after: uint256 = staticcall IERC20(collateral).balanceOf(self)
    assert balance_after - balance_before == assets, "pool: fee-on-transfer collateral"


@internal
def _permit_collateral(assets: uint256, deadline: uint256, v: uint8, r: bytes32, s: bytes32):
    """
    @dev Applies the caller's permit for this pool. A failed permit is ignored if
         the allowance is there anyway: anyone can submit a signature seen in the
         mempool first, and that must not block the call. The owner is always
         the caller, so a token whose `permit` silently does nothing only ever
         lets the pool spend what the caller approved.
    """
    applied: bool = raw_call(
        collateral,
        abi_encode(
            msg.sender,
            self,
            assets,
            deadline,
            v,
            r,
            s,
            method_id=method_id("permit(address,address,uint256,uint256,uint8,bytes32,bytes32)"),
        ),
        revert_on_failure=False,
    )
    if not applied:
        assert block.timestamp <= deadline, "pool: deadline passed"
        assert staticcall IERC20(collateral).allowance(msg.sender, self) >= assets, "pool: permit failed"


@internal
def _push(receiver: address, assets: uint256):
    if assets != 0:
        assert extcall IERC20(collateral).transfer(receiver, assets, default_return_value=True), "pool: transfer failed"


@internal
def _set_parameters(params: IPool.Parameters):
    assert params.interval >= constants.MIN_INTERVAL and params.interval <= constants.MAX_INTERVAL, "pool: interval out of bounds"
    assert params.threshold >= constants.MIN_THRESHOLD and params.threshold <= constants.MAX_THRESHOLD, "pool: threshold out of bounds"
    assert params.mint_fee <= constants.MAX_TRADE_FEE, "pool: mint fee out of bounds"
    assert params.redeem_fee <= constants.MAX_TRADE_FEE, "pool: redeem fee out of bounds"
    assert params.management_fee <= constants.MAX_MANAGEMENT_FEE, "pool: management fee out of bounds"
    assert params.keeper_bounty <= constants.MAX_KEEPER_BOUNTY_UNITS * _COLLATERAL_UNIT, "pool: keeper bounty out of bounds"
    assert params.min_backing >= constants.MIN_MIN_BACKING and params.min_backing <= constants.MAX_MIN_BACKING, "pool: min backing out of bounds"
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
    log IPool.ParametersUpdated(
        interval=params.interval,
        threshold=params.threshold,
        mint_fee=params.mint_fee,
        redeem_fee=params.redeem_fee,
        management_fee=params.management_fee,
        keeper_bounty=params.keeper_bounty,
        min_backing=params.min_backing,
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
        mint_fee=(word >> 8) & _MASK_56,
        redeem_fee=(word >> 64) & _MASK_56,
        min_backing=(word >> 120) & _MASK_64,
        keeper_bounty=word >> 184,
    )


@internal
def _store_settings(settings: Settings):
    # Each field is bounded by `_set_parameters` to fit (see the layout above).
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
    self._settings_word = word


@internal
@view
def _schedule() -> Schedule:
    word: uint256 = self._schedule_word
    return Schedule(
        last_rebalance=word & _MASK_64,
        interval=(word >> 64) & _MASK_64,
        threshold=(word >> 128) & _MASK_64,
        management_fee=word >> 192,
    )


@internal
def _store_schedule(schedule: Schedule):
    # A timestamp fits 64 bits; the parameters are bounded by `_set_parameters`.
    self._schedule_word = (
        schedule.last_rebalance
        | schedule.interval << 64
        | schedule.threshold << 128
        | schedule.management_fee << 192
    )


@internal
def _store_ledger(total_assets: uint256, reference_price: uint256):
    assert total_assets <= _MASK_128, "pool: assets too large"
    assert reference_price <= _MASK_128, "pool: price too large"
    self._ledger_word = total_assets | reference_price << 128
