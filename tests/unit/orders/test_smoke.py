def test_smoke(order_seeded, order_pool, book, project, minter, lp, collateral, deadline, settle, keeper):
    assert order_pool.balanceOf(minter) > 0
    assert project.LpToken.at(order_pool.lp_token()).balanceOf(lp) > 0
    assert book.pending_orders() == 0
    shares = order_pool.balanceOf(minter)
    book.request_redeem(shares, 0, minter, deadline, sender=minter)
    before = collateral.balanceOf(minter)
    receipt = settle()
    print(receipt.gas_used, [l.event_name for l in receipt.decode_logs()])
    assert order_pool.balanceOf(minter) == 0
    assert collateral.balanceOf(minter) > before
