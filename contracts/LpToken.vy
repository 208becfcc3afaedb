# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Liquidity provider share token
@license MIT
@author Inverse token contributors
@notice ERC-20 with EIP-2612 permit for the LP side of one pool. Deployed by its
        pool from a blueprint; only that pool mints and burns. The pool owns the
        value these shares claim and tells this token what the LP side is worth;
        the share math (with its virtual offset against inflation) is here:
        `deposit_shares`, `shares_value`, `shares_for`.

        Rescaling. After the pool is exhausted the LP side is worth almost
        nothing, so a recapitalising deposit priced fairly would get shares by
        the billions per unit, and repeated exhaustion would grow the supply
        without bound (past 2**256 in share products). So when a deposit finds
        a share worth less than 2**-20 of its first price, every balance and
        the supply are first divided by the same power of two, chosen to bring
        a share back to 1/2 .. 2x its first price; then the deposit is priced.
        Each holder keeps their part of the LP side, less the rounding down of
        their balance (under one share, worth under 2 / 10**(18 - decimals)
        collateral wei) and, all together, under 3 wei that the virtual offset
        then holds; no one gains it. The supply stays within
        2**21 * 10**(18 - decimals) shares per collateral wei of LP value
        however often it happens (the bound is in `deposit_shares`). Balances
        are divided lazily: each stores the level (the sum of all shifts so
        far) it was written at. LP withdrawal orders requested before a rescale
        hold shares of the old size in escrow: the pool converts them with
        `escrowed_now` when it settles them.
@custom:security Trusts its pool, fixed at construction, for every mint and burn.
        It calls no other contract, so nothing can re-enter it: its views
        (which the pool reads on every LP order) take no lock (`@reentrant`).
        A rescale divides balances by a power of two (rounding down), so
        `totalSupply` can exceed the sum of balances by less than one share per
        holder; those shares belong to nobody. Allowances are rescaled like
        balances (an infinite one stays infinite), and a permit's nonce
        carries the level, so a permit signed before a rescale is void after
        it: an approval never reaches more value than when it was given.
@custom:kill Follows its pool: after the pool's shutdown LPs still withdraw
        (burning shares) and no new shares are minted.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.tokens import erc20
from snekmate.utils import ecdsa

from .interfaces import ILpToken

implements: ILpToken

initializes: ownable
initializes: erc20[ownable := ownable]

# Balances and the supply are this contract's own (rescaled lazily, below), and so
# are `approve`, `permit`, `nonces` and `allowance`, which rescale allowances (the
# module still stores each allowance and counts the permits). Left out on purpose:
# `erc20.mint`, `erc20.set_minter`, `erc20.is_minter`, the ownership functions
# (only the pool mints, through `mint` below) and `erc20.burn`, `erc20.burn_from`
# (shares are burned only by the pool when it pays them out; an LP withdrawal
# request moves them into the pool's escrow with `escrow`).
exports: (
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)


event Rescale:
    # Every balance and the supply were divided by 2**bits (rounded down).
    bits: uint256
    # The supply afterwards, before the deposit that caused it.
    total_supply: uint256


# The pool whose LP side these shares are; the only minter and burner.
pool: public(immutable(address))

# Supply (bits 0-127), level: the sum of all rescale shifts (128-191), time of
# the last rescale (192-255; 0: never).
_supply_word: uint256

# Each holder's balance (bits 0-127) in the shares of the level at
# bits 128-255: what they hold now is that balance >> (current level - it).
_balances: HashMap[address, uint256]

# For each rescale, keyed by the level it ended at: the level (bits 0-127) and
# time (128-255) of the one before (0, 0: none).
_rescale_before: HashMap[uint256, uint256]

# The level each allowance (owner, spender) was written at: what it allows now is
# that amount >> (current level - it), unless it is infinite (max uint256).
_allowance_level: HashMap[address, HashMap[address, uint256]]

_MASK_64: constant(uint256) = 2**64 - 1
_MASK_128: constant(uint256) = 2**128 - 1
# Most LP shares there may be: times any collateral amount (< 2**128), inside 256 bits.
_MAX_SUPPLY: constant(uint256) = 2**120
# A deposit rescales when the supply passes 2**20 times its par (a share worth
# less than about a millionth of its first price).
_FLOOR_BITS: constant(uint256) = 20
# Rescales a pending order's shares can span before they are surely 0: each
# shifts by more than _FLOOR_BITS, and balances are below 2**128.
_MAX_RESCALES: constant(uint256) = 8
# EIP-2612's permit type, as snekmate's erc20 hashes it.
_PERMIT_TYPE_HASH: constant(bytes32) = keccak256(
    "Permit(address owner,address spender,uint256 value,uint256 nonce,uint256 deadline)"
)


@deploy
def __init__(name_: String[25], symbol_: String[5]):
    """
    @notice Created by the pool (`msg.sender`), which becomes its only minter.
    @param name_ Token name, also the EIP-712 domain name.
    @param symbol_ Token symbol.
    """
    ownable.__init__()
    erc20.__init__(name_, symbol_, 18, name_, "1")
    pool = msg.sender


# ---------------------------------------------------------------- ERC-20


@external
@view
@reentrant
def totalSupply() -> uint256:
    """
    @notice LP shares in existence, escrowed ones included.
    @return uint256 The supply.
    """
    return self._supply_word & _MASK_128


@external
@view
@reentrant
def balanceOf(owner: address) -> uint256:
    """
    @notice LP shares `owner` holds now (after any rescale).
    @param owner The holder.
    @return uint256 The balance.
    """
    return self._balance(self._balances[owner], self._level(self._supply_word))


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` shares from the caller to `to`.
    @param to The receiver.
    @param amount The number of shares.
    @return bool True (failures revert).
    """
    self._transfer(msg.sender, to, amount, self._level(self._supply_word))
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice Moves `amount` shares from `owner` to `to` within the caller's allowance.
    @param owner The holder.
    @param to The receiver.
    @param amount The number of shares.
    @return bool True (failures revert).
    """
    level: uint256 = self._level(self._supply_word)
    allowed: uint256 = self._allowance(owner, msg.sender, level)
    if allowed != max_value(uint256):
        assert allowed >= amount, "erc20: insufficient allowance"
        self._approve(owner, msg.sender, unsafe_sub(allowed, amount), level)
    self._transfer(owner, to, amount, level)
    return True


@external
@view
@reentrant
def allowance(owner: address, spender: address) -> uint256:
    """
    @notice LP shares `spender` may move for `owner` now (after any rescale).
    @param owner The holder.
    @param spender The spender.
    @return uint256 The allowance (max uint256: infinite).
    """
    return self._allowance(owner, spender, self._level(self._supply_word))


@external
def approve(spender: address, amount: uint256) -> bool:
    """
    @notice Lets `spender` move up to `amount` of the caller's shares (max
            uint256: without limit). A later rescale divides it as it divides
            balances.
    @param spender The spender.
    @param amount The number of shares.
    @return bool True (failures revert).
    """
    self._approve(msg.sender, spender, amount, self._level(self._supply_word))
    return True


@external
@view
@reentrant
def rescale_level() -> uint256:
    """
    @notice Every rescale's bits so far, summed: shares recorded when it was `a`
            (a cached balance, an allowance, an `OrderRequested` amount) are
            worth amount >> (rescale_level() - a) shares now. Each rescale also
            emits `Rescale`.
    @return uint256 The level.
    """
    return self._level(self._supply_word)


@external
@view
@reentrant
def nonces(owner: address) -> uint256:
    """
    @notice The nonce `owner`'s next permit signs: the permits used so far, with
            the rescale level above bit 128, so a permit signed before a rescale
            (for shares of the old size) is refused after it.
    @param owner The holder.
    @return uint256 The nonce.
    """
    return erc20.nonces[owner] | self._level(self._supply_word) << 128


@external
def permit(owner: address, spender: address, amount: uint256, deadline: uint256, v: uint8, r: bytes32, s: bytes32):
    """
    @notice EIP-2612: `approve` by `owner`'s signature over `nonces(owner)`,
            checked as snekmate's erc20 checks it (its EIP-712 domain).
    @param owner The holder who signed.
    @param spender The spender.
    @param amount The number of shares.
    @param deadline Last block time the signature is valid at.
    @param v The signature's v.
    @param r The signature's r.
    @param s The signature's s.
    """
    assert block.timestamp <= deadline, "erc20: expired deadline"
    used: uint256 = erc20.nonces[owner]
    erc20.nonces[owner] = unsafe_add(used, 1)
    level: uint256 = self._level(self._supply_word)
    nonce: uint256 = used | level << 128
    digest: bytes32 = erc20.eip712_domain_separator._hash_typed_data_v4(
        keccak256(abi_encode(_PERMIT_TYPE_HASH, owner, spender, amount, nonce, deadline))
    )
    signer: address = ecdsa._recover_vrs(digest, convert(v, uint256), convert(r, uint256), convert(s, uint256))
    assert signer == owner, "erc20: invalid signature"
    self._approve(owner, spender, amount, level)


# ---------------------------------------------------------------- the pool's


@external
def mint(owner: address, priced: uint256):
    """
    @notice Creates LP shares for a deposit into the pool, after the rescale
            they were priced after.
    @param owner The receiver of the shares.
    @param priced What `deposit_shares` returned for the deposit: the shares
           (bits 0-127) and the rescale's bits (128-255; 0: none).
    """
    assert msg.sender == pool, "lp: caller is not the pool"
    assert owner != empty(address), "erc20: mint to the zero address"
    amount: uint256 = priced & _MASK_128
    bits: uint256 = priced >> 128
    word: uint256 = self._supply_word
    level: uint256 = self._level(word)
    supply: uint256 = word & _MASK_128
    if bits != 0:
        self._rescale_before[level + bits] = level | (word >> 192) << 128
        level += bits
        supply >>= bits
        word = block.timestamp << 192
        log Rescale(bits=bits, total_supply=supply)
    # deposit_shares priced it within _MAX_SUPPLY in an earlier call: checked here
    # again, so no packed word can ever take a carry (every balance <= supply).
    supply += amount
    assert supply <= _MAX_SUPPLY, "lp: supply past its bound"
    self._supply_word = supply | level << 128 | (word >> 192) << 192
    self._balances[owner] = unsafe_add(self._balance(self._balances[owner], level), amount) | level << 128
    log IERC20.Transfer(sender=empty(address), receiver=owner, value=amount)


@external
def burn(owner: address, amount: uint256):
    """
    @notice Destroys LP shares paid out by the pool.
    @param owner The holder whose shares are burned.
    @param amount The number of shares.
    """
    assert msg.sender == pool, "lp: caller is not the pool"
    word: uint256 = self._supply_word
    level: uint256 = self._level(word)
    balance: uint256 = self._balance(self._balances[owner], level)
    assert balance >= amount, "erc20: burn amount exceeds balance"
    self._balances[owner] = unsafe_sub(balance, amount) | level << 128
    # The supply is at least every balance: no borrow from the level's bits.
    self._supply_word = unsafe_sub(word, amount)
    log IERC20.Transfer(sender=owner, receiver=empty(address), value=amount)


@external
def escrow(owner: address, amount: uint256):
    """
    @notice Moves LP shares of an LP withdrawal request into the pool's escrow,
            where they stay in the supply until the order settles. Refused in
            the second of a rescale after it (every block with its timestamp:
            several on a fast L2): the order's time must say which side of the
            rescale its shares are from.
    @param owner The holder who requested the withdrawal.
    @param amount The number of shares.
    """
    assert msg.sender == pool, "lp: caller is not the pool"
    word: uint256 = self._supply_word
    assert word >> 192 != block.timestamp, "lp: shares rescaled this second"
    self._move(owner, pool, amount, self._level(word))


@external
@view
@reentrant
def deposit_shares(added: uint256, lp_value: uint256, virtual: uint256) -> uint256:
    """
    @notice LP shares for a deposit that adds `added` to an LP value of
            `lp_value`, at the share price with the virtual offset:
            added * (supply + virtual) / (lp_value + 1), rounded down; 0 if the
            supply would pass 2**120. The supply is the one after a rescale
            when a share is worth less than 2**-20 of its first price, i.e.
            supply >> 20 > par with par = virtual * (lp_value + 1): then
            every balance is divided by the least power of two 2**bits that
            brings the supply to par or below (a share to 1/2 .. 2x its first
            price). `mint` makes that rescale.
    @param added LP value the deposit adds, in collateral.
    @param lp_value LP value before it.
    @param virtual Virtual shares, 10**(18 - collateral decimals).
    @return uint256 The shares (bits 0-127) and the rescale's bits (128-255).
    """
    # Bound: a deposit that does not rescale finds supply < 2**20 * (par + 1),
    # so (supply + virtual) / (lp_value + 1) <= 2**21 * virtual; after a rescale
    # supply <= par, so that ratio is at most 2 * virtual. A deposit keeps the
    # ratio (it buys at the price), so after any deposit
    #     supply + virtual <= 2**21 * virtual * (LP value + 1),
    # however many exhaustions came before: 2**120 is reached only past about
    # 2**99 / 10**18 = 6 * 10**11 collateral units of LP value (virtual * unit
    # = 10**18 for any decimals). With the supply capped at 2**120 (checked
    # below) and every value below 2**128 (the pool's ledger; `added` below
    # 2**129), each product of shares and collateral here and in the pool is
    # below 2**250, and par below 2**188.
    supply: uint256 = self._supply_word & _MASK_128
    bits: uint256 = 0
    value: uint256 = unsafe_add(lp_value, 1)  # lp_value < 2**128
    par: uint256 = unsafe_mul(virtual, value)  # virtual <= 10**18: below 2**188
    if supply >> _FLOOR_BITS > par:
        for step: uint256 in [64, 32, 16, 8, 4, 2, 1]:
            if supply >> (bits + step) > par:
                bits += step
        bits += 1
        supply >>= bits
    shares: uint256 = unsafe_div(added * unsafe_add(supply, virtual), value)
    # Past the cap the pool refunds the deposit rather than let a settlement
    # revert (over 10**18 collateral units at once, or past the bound above).
    if shares > unsafe_sub(_MAX_SUPPLY, supply):
        return 0
    return shares | bits << 128


@external
@view
@reentrant
def shares_value(lp_shares: uint256, lp_value: uint256, virtual: uint256) -> uint256:
    """
    @notice Collateral `lp_shares` claim of an LP value of `lp_value`, rounded down.
    @param lp_shares LP shares.
    @param lp_value The LP side's value, in collateral.
    @param virtual Virtual shares, 10**(18 - collateral decimals).
    @return uint256 Collateral.
    """
    return lp_shares * (lp_value + 1) // ((self._supply_word & _MASK_128) + virtual)


@external
@view
@reentrant
def shares_for(assets: uint256, lp_value: uint256, virtual: uint256) -> uint256:
    """
    @notice LP shares worth `assets` of an LP value of `lp_value`, rounded up
            (what a payment out of LP value burns).
    @param assets Collateral.
    @param lp_value The LP side's value, in collateral.
    @param virtual Virtual shares, 10**(18 - collateral decimals).
    @return uint256 LP shares.
    """
    return (assets * ((self._supply_word & _MASK_128) + virtual) + lp_value) // (lp_value + 1)


@external
@view
@reentrant
def escrowed_now(amount: uint256, since: uint256) -> uint256:
    """
    @notice What `amount` shares escrowed at time `since` are now: divided by
            every rescale since (a rescale's own second counts as after, as
            `escrow` refuses requests in it once it happened).
    @param amount Shares, as escrowed.
    @param since The request's timestamp.
    @return uint256 The shares now.
    """
    word: uint256 = self._supply_word
    at: uint256 = word >> 192
    if since > at:
        return amount  # no rescale since: the common case
    level: uint256 = self._level(word)
    total: uint256 = 0
    for i: uint256 in range(_MAX_RESCALES):
        if since > at:
            return amount >> total
        before: uint256 = self._rescale_before[level]
        total += level - (before & _MASK_128)
        level = before & _MASK_128
        at = before >> 128
    # Past _MAX_RESCALES rescales of more than 20 bits each, any balance is 0.
    return 0


# ---------------------------------------------------------------- internal


@internal
@pure
def _level(word: uint256) -> uint256:
    return (word >> 128) & _MASK_64


@internal
@pure
def _balance(word: uint256, level: uint256) -> uint256:
    # Shifting by 256 or more gives 0 (EVM SHR).
    return (word & _MASK_128) >> unsafe_sub(level, word >> 128)  # levels only grow


@internal
@view
def _allowance(owner: address, spender: address, level: uint256) -> uint256:
    # What the allowance allows at `level`, the current one.
    allowed: uint256 = erc20.allowance[owner][spender]
    if allowed == max_value(uint256):
        return allowed
    # Shifting by 256 or more gives 0 (EVM SHR); levels only grow.
    return allowed >> unsafe_sub(level, self._allowance_level[owner][spender])


@internal
def _approve(owner: address, spender: address, amount: uint256, level: uint256):
    # Written at `level`, the current one.
    erc20._approve(owner, spender, amount)
    self._allowance_level[owner][spender] = level


@internal
def _transfer(owner: address, to: address, amount: uint256, level: uint256):
    assert owner != empty(address), "erc20: transfer from the zero address"
    assert to != empty(address), "erc20: transfer to the zero address"
    self._move(owner, to, amount, level)


@internal
def _move(owner: address, to: address, amount: uint256, level: uint256):
    balance: uint256 = self._balance(self._balances[owner], level)
    assert balance >= amount, "erc20: transfer amount exceeds balance"
    self._balances[owner] = unsafe_sub(balance, amount) | level << 128
    # Below the supply, which is at most 2**120: the sum fits its field.
    self._balances[to] = unsafe_add(self._balance(self._balances[to], level), amount) | level << 128
    log IERC20.Transfer(sender=owner, receiver=to, value=amount)
