# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Liquidity provider share token
@license MIT
@author Inverse token contributors
@notice ERC-20 with EIP-2612 permit for the LP side of one pool. Deployed by its
        pool from a blueprint; only that pool mints and burns. The share math
        (with its virtual offset against inflation) lives in the pool, which owns
        the value these shares claim.
@custom:security Trusts its pool, fixed at construction, for every mint and burn.
@custom:kill Follows its pool: after the pool's shutdown LPs still withdraw
        (burning shares) and no new shares are minted.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

from .interfaces import ILpToken

implements: ILpToken

initializes: ownable
initializes: erc20[ownable := ownable]

# Left out on purpose: `erc20.mint`, `erc20.set_minter`, `erc20.is_minter`,
# `erc20.transfer_ownership`, `erc20.renounce_ownership` (only the pool mints,
# through `mint` below, and the minter set never changes) and `erc20.burn`,
# `erc20.burn_from` (shares are burned only by the pool when it pays them out;
# an LP withdrawal request moves them into the pool's escrow with `escrow`).
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
)


# The pool whose LP side these shares are; the only minter and burner.
pool: public(immutable(address))


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


@external
def mint(owner: address, amount: uint256):
    """
    @notice Creates LP shares for a deposit into the pool.
    @param owner The receiver of the shares.
    @param amount The number of shares.
    """
    assert msg.sender == pool, "lp: caller is not the pool"
    erc20._mint(owner, amount)


@external
def burn(owner: address, amount: uint256):
    """
    @notice Destroys LP shares paid out by the pool.
    @param owner The holder whose shares are burned.
    @param amount The number of shares.
    """
    assert msg.sender == pool, "lp: caller is not the pool"
    erc20._burn(owner, amount)


@external
def escrow(owner: address, amount: uint256):
    """
    @notice Moves LP shares of an LP withdrawal request into the pool's escrow,
            where they stay in the supply until the order settles.
    @param owner The holder who requested the withdrawal.
    @param amount The number of shares.
    """
    assert msg.sender == pool, "lp: caller is not the pool"
    erc20._transfer(owner, pool, amount)
