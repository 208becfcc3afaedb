# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Rebalancer of pull markets
@license MIT
@author Inverse token contributors
@notice A pull market rebalances at the price of a recent slot
        (`PythOracle.latest()`): this proves that price and rebalances in one
        transaction, so nobody can take the bounty between the proof and the
        rebalance. The bounty goes to the caller.
@custom:security Holds nothing between calls: the value sent pays Pyth's fee and
        the rest goes back to the caller; any pool may be named, and only that
        pool and its oracle are called.
@custom:kill Nothing to stop: stateless, no owner.
"""

from .interfaces import IPullOracle


interface IRebalancedPool:
    def oracle() -> address: view
    def rebalance(receiver: address) -> uint256: nonpayable


@external
@payable
def rebalance(pool: address, updates: DynArray[IPullOracle.PullUpdate, 1]) -> uint256:
    """
    @notice Proves a recent slot's price on `pool`'s pull oracle, then
            rebalances `pool` for the caller.
    @dev Reverts with the pool's reason when it is not due (`pool: rebalance
         not due`, `pool: settle due orders first`).
    @param pool The market.
    @param updates A recent slot's time and its update data (from Hermes),
           or none if someone proved it already.
    @return uint256 The bounty paid to the caller.
    """
    if len(updates) != 0:
        extcall IPullOracle(staticcall IRebalancedPool(pool).oracle()).prove(updates, msg.sender, value=msg.value)
    else:
        assert msg.value == 0, "rebalancer: no update to pay for"
    return extcall IRebalancedPool(pool).rebalance(msg.sender)
