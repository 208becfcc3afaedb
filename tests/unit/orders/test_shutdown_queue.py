"""Shutdown goes through the queue like an order; afterwards exits settle at once."""

import ape


def test_shutdown__queued_then_settled__fixes_nav_and_exits_settle_at_once(
    order_seeded, order_pool, book, owner, minter, collateral, deadline, settle
):
    order_id = book.pending_orders() + book.next_order()
    order_pool.shutdown(sender=owner)
    assert book.order(order_id).status == 1  # pending
    assert order_pool.shutdown_requested() and not order_pool.is_shutdown()
    with ape.reverts("orders: closed"):
        book.request_mint(100 * 10**6, 0, minter, deadline, sender=minter)

    settle()
    assert order_pool.is_shutdown()
    assert book.pending_orders() == 0

    shares = order_pool.balanceOf(minter)
    before = collateral.balanceOf(minter)
    book.request_redeem(shares, 0, minter, deadline, sender=minter)
    assert order_pool.balanceOf(minter) == 0
    assert collateral.balanceOf(minter) > before  # paid in the same transaction
    assert book.pending_orders() == 0
