# pragma version 0.4.3
"""
@title Mock stablecoin (test only)
@license MIT
@notice A plain ERC-20 with EIP-2612 permit and any decimals (6 like USDC, 18 like
        DAI), built on snekmate's audited `erc20`, plus an open faucet `mint`.
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
    erc20.transfer,
    erc20.transferFrom,
    erc20.approve,
    erc20.permit,
    erc20.nonces,
    erc20.DOMAIN_SEPARATOR,
    erc20.eip712Domain,
)


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
