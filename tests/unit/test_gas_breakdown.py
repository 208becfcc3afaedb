"""The trace split behind `make bench` (inverse/gas.py) against what the EVM charges."""

from inverse.gas import CALL_ITSELF, breakdown, call_labels, intrinsic_gas
from tests.conftest import publish_round, settle_orders

USDC = 10**6


def _split(chain, receipt, labels, inside=()):
    return breakdown(chain.provider.web3, receipt.txn_hash, *call_labels(labels), inside=inside)


def test_breakdown__request_mint__parts_sum_to_the_receipt_and_name_every_call(
    order_seeded, order_pool, book, collateral, feed, minter, deadline, chain
):
    receipt = book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)

    parts = _split(chain, receipt, {"pool": order_pool, "feed": feed, "collateral": collateral})

    assert parts.refund == 0  # a request clears no slot
    assert sum(gas for _, gas, _ in parts.rows()) == receipt.gas_used
    assert parts.intrinsic == intrinsic_gas(bytes.fromhex(receipt.transaction.data.hex().removeprefix("0x")))
    assert [label for label, _ in parts.calls] == [
        "collateral.balanceOf",
        "collateral.transferFrom",
        "collateral.balanceOf",
        "feed.phaseId",
    ]
    # The book writes the order's commitment (a new slot) and its queue word (read
    # first, so already warm), nothing else; the pool's terms are the book's own word.
    assert parts.writes == 2
    assert parts.write_gas == 22_100 + 2_900
    assert parts.hash_gas > 0  # the commitment
    assert parts.cold_reads * 2_100 == parts.cold_read_gas


def test_breakdown__settle_inside_the_pool__splits_the_fill_and_shows_the_cleared_commitment(
    order_seeded, order_pool, book, collateral, oracle, feed, owner, keeper, minter, deadline, chain
):
    order = book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter).return_value
    publish_round(feed, owner, chain, after=book.order(order).not_before)
    receipt = settle_orders(book, feed, keeper, chain)

    labels = {"pool": order_pool, "oracle": oracle, "collateral": collateral}
    whole = _split(chain, receipt, labels)
    parts = _split(chain, receipt, labels, inside=(order_pool.address,))

    for split in (whole, parts):
        assert sum(gas for _, gas, _ in split.rows()) == receipt.gas_used
    assert parts.refund == whole.refund > 0  # the commitment's slot goes back to zero
    assert [label for label, _ in whole.calls] == ["oracle.order_rounds", "pool.execute"]
    # Inside the pool: its own reads and writes, and the settle fee paid to the keeper.
    assert [label for label, _ in parts.calls] == [
        "oracle.order_rounds",
        "collateral.transfer",
        "pool.execute" + CALL_ITSELF,
    ]
    assert parts.writes > whole.writes
    [execute] = whole.call_gas("pool.execute")
    [transfer] = parts.call_gas("collateral.transfer")
    assert 0 < transfer < execute
