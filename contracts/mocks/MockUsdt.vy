# pragma version 0.4.3
"""
@title Mock USDT-style token (test only)
@license MIT
@notice Like Tether on mainnet: 6 decimals and `transfer`, `transferFrom` and
        `approve` that return nothing instead of a bool, so a caller that insists
        on a bool reverts. Balances reuse snekmate's `erc20` internals.
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
)


@deploy
def __init__():
    ownable.__init__()
    erc20.__init__("Mock Tether USD", "USDT", 6, "Mock Tether USD", "1")


@external
def transfer(to: address, amount: uint256):
    erc20._transfer(msg.sender, to, amount)


@external
def transferFrom(owner: address, to: address, amount: uint256):
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)


@external
def approve(spender: address, amount: uint256):
    erc20._approve(msg.sender, spender, amount)


@external
def mint(owner: address, amount: uint256):
    """
    @notice Faucet: creates `amount` tokens for `owner`.
    """
    erc20._mint(owner, amount)
