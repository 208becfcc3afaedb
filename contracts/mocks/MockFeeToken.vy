# pragma version 0.4.3
"""
@title Mock fee-on-transfer token (test only)
@license MIT
@notice Keeps 1% of every transfer (sent to the zero-fee sink below), like the
        deflationary tokens a pool must refuse. Balances reuse snekmate's `erc20`.
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
)

# Where the 1% fee goes.
FEE_SINK: constant(address) = 0x000000000000000000000000000000000000FEE0


@deploy
def __init__():
    ownable.__init__()
    erc20.__init__("Mock Fee Token", "FEE", 18, "Mock Fee Token", "1")


@external
def transfer(to: address, amount: uint256) -> bool:
    self._transfer_with_fee(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    erc20._spend_allowance(owner, msg.sender, amount)
    self._transfer_with_fee(owner, to, amount)
    return True


@external
def mint(owner: address, amount: uint256):
    """
    @notice Faucet: creates `amount` tokens for `owner`.
    """
    erc20._mint(owner, amount)


@internal
def _transfer_with_fee(owner: address, to: address, amount: uint256):
    fee: uint256 = amount // 100
    erc20._transfer(owner, FEE_SINK, fee)
    erc20._transfer(owner, to, amount - fee)
