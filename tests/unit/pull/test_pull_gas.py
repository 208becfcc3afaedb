"""What a pull settlement costs its keeper: a batch of 20 orders of one slot, the
update's verification included, against SPEC 3b's measure (v2's push settlement)."""

from inverse.orders import order_from_log

from .conftest import USDC, mine_past, settle_pull

# Per order, in a batch of 20 mints: v2's push settlement measured 31,649 (BENCHMARKS.md).
MAX_GAS_PER_ORDER = 35_000


def test_settle__twenty_mints_of_one_slot__one_proof_under_35k_gas_each(
    pull_pool, pull_book, pull_funded, lp, minter, keeper, prices, chain, frozen_clock
):
    receipt = pull_book.request_lp_deposit(500_000 * USDC, 0, lp, chain.pending_timestamp + 600, sender=lp)
    mine_past(order_from_log(receipt.events.filter(pull_book.OrderRequested)[0]).not_before)
    settle_pull(pull_book, prices, keeper)
    start = chain.pending_timestamp
    slot = start - start % 5 + 10  # every request below has T = this slot: requested within 4 s of
    chain.mine(timestamp=slot - 9)  # its slot's start, 5 s before it
    for _ in range(20):
        pull_book.request_mint(100 * USDC, 0, minter, slot + 600, sender=minter)
    orders = [
        order_from_log(log)
        for log in pull_book.OrderRequested.range(chain.blocks.head.number - 19, chain.blocks.head.number + 1)
    ]
    assert {o.not_before for o in orders} == {slot}
    mine_past(slot)
    receipt = settle_pull(pull_book, prices, keeper)
    assert len(receipt.events.filter(pull_pool.OrderSettled)) == 20
    per_order = receipt.gas_used // 20
    print(f"pull settle, 20 mints, one proof: {receipt.gas_used} gas, {per_order} per order")
    assert per_order <= MAX_GAS_PER_ORDER
