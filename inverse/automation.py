"""Chainlink Automation's side of the market's `Upkeep` contract: the `Log` struct
its log-trigger upkeep hands to `checkLog`, and the perform data `checkUpkeep`
returns (tagged: a recorded order, or a run of orders to settle)."""

from __future__ import annotations

from eth_abi import decode, encode

from .orders import Order

# Perform data tags (`Upkeep.vy`).
TAG_RECORD = 1
TAG_SETTLE = 2
ORDER_TYPE = "(uint256,uint256,address,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"


def _bytes(value) -> bytes:
    if isinstance(value, str):
        return bytes.fromhex(value.removeprefix("0x"))
    return bytes(value)


def log_struct(log: dict, timestamp: int) -> tuple:
    """A raw log (as `eth_getLogs` or a receipt gives it) as `ILogAutomation`'s
    `Log`: (index, timestamp, txHash, blockNumber, blockHash, source, topics, data)."""
    return (
        int(log["logIndex"]),
        timestamp,
        _bytes(log["transactionHash"]),
        int(log["blockNumber"]),
        _bytes(log["blockHash"]),
        log["address"],
        [_bytes(topic) for topic in log["topics"]],
        _bytes(log["data"]),
    )


def record_data(order: Order) -> bytes:
    """The perform data that records `order` (what `checkLog` returns)."""
    return encode(["uint256", ORDER_TYPE], [TAG_RECORD, order.as_struct()])


def settle_data(first_id: int, round_ids: list[int], rebalance_after: int = 0, held: list[int] = ()) -> bytes:
    """The perform data that hands back the held LP deposits `held` (ids, lowest
    first), then settles orders `first_id`, ... at `round_ids`, then rebalances if
    `rebalance_after` is the pool's `last_rebalance()` still (no rebalance since)
    and the pool says it is due; 0: no rebalance. What `checkUpkeep` returns."""
    packed = sum(order_id << (40 * i) for i, order_id in enumerate(held))
    return encode(
        ["uint256", "uint256", "uint256", "uint256", "uint256[]"],
        [TAG_SETTLE, rebalance_after, first_id, packed, round_ids],
    )


def _decoded(data: bytes) -> tuple:
    tag, rebalance_after, first_id, packed, round_ids = decode(
        ["uint256", "uint256", "uint256", "uint256", "uint256[]"], bytes(data)
    )
    assert tag == TAG_SETTLE, f"not a settlement: tag {tag}"
    held = [packed >> (40 * i) & (2**40 - 1) for i in range(6) if packed >> (40 * i)]
    return rebalance_after, first_id, held, list(round_ids)


def decode_settle(data: bytes) -> tuple[int, int, list[int]]:
    """(rebalance_after, first id, round ids) of a settlement's perform data."""
    rebalance_after, first_id, _, round_ids = _decoded(data)
    return rebalance_after, first_id, round_ids


def handed_back(data: bytes) -> list[int]:
    """The held LP deposits a settlement's perform data hands back first."""
    return _decoded(data)[2]
