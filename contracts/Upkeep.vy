# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Chainlink Automation for one market
@license MIT
@author Inverse token contributors
@notice Register this contract as the market's custom-logic upkeep.
        `checkUpkeep` says whether the pool's rebalance is due; `performUpkeep`
        rebalances, and the pool pays the bounty straight to `receiver`, the
        address the pool's owner names (Automation calls from a forwarder
        contract, which could not spend it). Anyone may call `performUpkeep`:
        the bounty still goes to `receiver`, and when no rebalance is due it
        reverts and changes nothing. Orders are settled by keepers that read the
        book's `OrderRequested` events.
@custom:kill Holds no funds: cancel the upkeep with Chainlink to stop it.
"""

from .interfaces import IPool


interface IOwned:
    def owner() -> address: view


event ReceiverSet:
    receiver: indexed(address)


# The market this upkeep rebalances.
pool: public(immutable(IPool))

# Who gets the bounty of the rebalances performed here.
receiver: public(address)


@deploy
def __init__(pool_: IPool, receiver_: address):
    """
    @param pool_ The market's pool.
    @param receiver_ Who gets the bounty (see `set_receiver`).
    """
    pool = pool_
    self._set_receiver(receiver_)


@external
def set_receiver(new_receiver: address):
    """
    @notice Names who gets the bounty from now on. Only the pool's owner.
    @param new_receiver Not zero, the pool, its LP token, its order book or this contract.
    """
    assert msg.sender == staticcall IOwned(pool.address).owner(), "upkeep: caller is not the pool's owner"
    self._set_receiver(new_receiver)


@external
@view
def checkUpkeep(check_data: Bytes[1024]) -> (bool, Bytes[32]):
    """
    @notice Chainlink Automation: whether `performUpkeep` should be called (the
            pool's rebalance is due).
    @param check_data Ignored.
    @return bool Whether a rebalance is due.
    @return Bytes[32] Empty perform data.
    """
    return staticcall pool.rebalance_due(), b""


@external
def performUpkeep(perform_data: Bytes[1024]):
    """
    @notice Chainlink Automation: rebalances the pool if (re-checked) due, else
            reverts with the pool's reason, so a repeated call is harmless.
    @param perform_data Ignored.
    """
    extcall pool.rebalance(self.receiver)


@internal
def _set_receiver(new_receiver: address):
    # The pool refuses to pay itself, its LP token or its order book; a receiver
    # it would refuse would stop every upkeep, and one that is this contract
    # would strand the bounty.
    assert new_receiver != empty(address), "upkeep: zero receiver"
    assert new_receiver not in [pool.address, staticcall pool.lp_token(), staticcall pool.order_book(), self], (
        "upkeep: receiver is the pool"
    )
    self.receiver = new_receiver
    log ReceiverSet(receiver=new_receiver)
