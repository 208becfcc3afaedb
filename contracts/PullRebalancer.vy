# pragma version 0.4.3
# pragma nonreentrancy on
"""
@title Rebalancer of pull markets
@license MIT
@author Inverse token contributors
@notice A pull market rebalances at the price of a recent slot
        (`PythOracle.latest()`): this proves that price and rebalances in one
        transaction, so nobody can take the bounty between the proof and the
        rebalance. The bounty goes to the caller. It also reads any view at a
        price brought in the same call (`view_after_update`): a page previews a
        pull market at Hermes's latest price with one `eth_call`, when nobody
        has brought a recent one to Pyth's contract, without sending anything.
@custom:security Holds nothing between calls: the value sent pays Pyth's fee and
        the rest goes back to the caller. `rebalance` calls only the pool named
        and its oracle; `view_after_update` calls only the Pyth contract named
        (`updatePriceFeeds`, which anyone may call) and the target, statically.
        Nothing trusts this contract's address: no contract gives it a role.
@custom:kill Nothing to stop: stateless, no owner.
"""

from .interfaces import IPullOracle
from .interfaces import IPyth
from . import constants


interface IRebalancedPool:
    def oracle() -> address: view
    def rebalance(receiver: address) -> uint256: nonpayable


# The largest call and answer `view_after_update` forwards: a view's selector and
# a few words of arguments; its answer up to 32 words.
_MAX_VIEW_CALL: constant(uint256) = 1_024
_MAX_VIEW_ANSWER: constant(uint256) = 1_024


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


@external
@payable
def view_after_update(
    pyth: IPyth,
    update_data: DynArray[Bytes[constants.PYTH_MAX_UPDATE_BYTES], constants.PYTH_MAX_UPDATES],
    target: address,
    data: Bytes[_MAX_VIEW_CALL],
) -> Bytes[_MAX_VIEW_ANSWER]:
    """
    @notice Brings `update_data` to Pyth's stored prices (`updatePriceFeeds`,
            paying its fee out of the value sent), then static-calls `target`
            with `data` and returns its answer as it is: a pull market's views
            (`PoolLens.preview_mint`, `InversePool.nav`, ...) at that price.
            Meant for `eth_call`, where the value can come from a state
            override on the caller's balance: nothing is sent and nothing
            stays. Sent as a transaction, it only updates Pyth's stored price
            (which anyone may do) and sends the value not spent on the fee
            back to the caller; it keeps nothing.
    @dev Reverts with Pyth's error when an update is not Pyth's
         (`InvalidUpdateData()`) or its fee is missing, and with the target's
         own revert data when the view reverts (`oracle: stale price` when the
         update is older than Pyth's stored price and that one is stale too).
         Pyth ignores an update older than the price it stores.
    @param pyth Pyth's contract (the pull oracle's `pyth()`).
    @param update_data Update data from Hermes (`/v2/updates/price/latest`).
    @param target The contract whose view is read.
    @param data The view's calldata (selector and ABI-encoded arguments).
    @return Bytes[_MAX_VIEW_ANSWER] The view's ABI-encoded answer.
    """
    assert pyth.address.is_contract, "rebalancer: pyth is not a contract"
    assert target.is_contract, "rebalancer: target is not a contract"
    fee: uint256 = staticcall pyth.getUpdateFee(update_data)
    assert msg.value >= fee, "rebalancer: update fee not paid"
    extcall pyth.updatePriceFeeds(update_data, value=fee)
    if msg.value > fee:
        raw_call(msg.sender, b"", value=msg.value - fee)
    ok: bool = False
    answer: Bytes[_MAX_VIEW_ANSWER] = b""
    ok, answer = raw_call(target, data, max_outsize=_MAX_VIEW_ANSWER, is_static_call=True, revert_on_failure=False)
    if not ok:
        raw_revert(answer)
    return answer
