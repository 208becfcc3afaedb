# pragma version 0.4.3
"""
@title Mock reentrant token (test only)
@license MIT
@notice A standard 18-decimal token whose `transfer` and `transferFrom` first call
        back into the caller with calldata the test armed (an ERC-777-style hook
        gone bad). It records whether the call-back succeeded, so a test can show
        the pool's lock refused it while the outer call went through.
@custom:security Anyone can mint and arm it: never deploy outside tests.
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

# Calldata sent back to the caller on the next transfer; empty = disarmed.
hook_data: public(Bytes[1024])

# Whether the last call-back succeeded.
hook_succeeded: public(bool)

# How many call-backs have been attempted.
hook_calls: public(uint256)


@deploy
def __init__():
    ownable.__init__()
    erc20.__init__("Mock Reentrant Token", "REENT", 18, "Mock Reentrant Token", "1")


@external
def arm(data: Bytes[1024]):
    """
    @notice Calls back into the next caller of `transfer`/`transferFrom` with `data`.
    """
    self.hook_data = data


@external
def transfer(to: address, amount: uint256) -> bool:
    self._call_back()
    erc20._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    self._call_back()
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True


@external
def mint(owner: address, amount: uint256):
    """
    @notice Faucet: creates `amount` tokens for `owner`.
    """
    erc20._mint(owner, amount)


@internal
def _call_back():
    data: Bytes[1024] = self.hook_data
    if len(data) == 0:
        return
    self.hook_data = b""
    self.hook_calls += 1
    success: bool = raw_call(msg.sender, data, revert_on_failure=False)
    self.hook_succeeded = success
