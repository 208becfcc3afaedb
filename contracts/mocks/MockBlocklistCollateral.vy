# pragma version 0.4.3
"""
@title Mock stablecoin with a blocklist (test only)
@license MIT
@notice `MockCollateral` with USDC's blocklist: a blocked account can neither
        send nor receive, so a payout to it reverts. Apart from the plain mock so
        that the gas figures of the others do not pay for the blocklist's reads
        (USDC keeps the flag in the balance's slot).
@custom:security Anyone can mint: never deploy outside tests and demos.
@custom:kill Not needed: a test double.
"""

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.allowance,
    erc20.approve,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)


# Accounts that can neither send nor receive (USDC's blacklist).
blocked: public(HashMap[address, bool])


@deploy
def __init__(name_: String[25], symbol_: String[5], decimals_: uint8):
    ownable.__init__()
    erc20.__init__(name_, symbol_, decimals_, name_, "1")


@external
def mint(owner: address, amount: uint256):
    """
    @notice Faucet: creates `amount` tokens for `owner`.
    """
    erc20._mint(owner, amount)


@external
def set_blocked(account: address, blocked_: bool):
    """
    @notice Open to anyone (test double): blocks or unblocks `account`.
    """
    self.blocked[account] = blocked_


@external
def transfer(to: address, amount: uint256) -> bool:
    assert not self.blocked[msg.sender] and not self.blocked[to], "mock: account blocked"
    erc20._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    assert not self.blocked[owner] and not self.blocked[to], "mock: account blocked"
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True
