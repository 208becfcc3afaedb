"""The trace split behind `make bench` (inverse/gas.py) against what the EVM charges."""

from inverse.gas import breakdown, call_labels, intrinsic_gas


def _split(chain, receipt, labels):
    return breakdown(chain.provider.web3, receipt.txn_hash, *call_labels(labels))


def test_breakdown__mint__parts_sum_to_the_receipt_and_name_every_call(
    seeded, pool, collateral, oracle, minter, deadline, chain
):
    receipt = pool.mint(1_000 * 10**6, 0, minter, deadline, sender=minter)

    parts = _split(chain, receipt, {"oracle": oracle, "collateral": collateral})

    assert parts.refund == 0  # no slot goes back to zero in a repeat mint
    assert sum(gas for _, gas, _ in parts.rows()) == receipt.gas_used
    assert parts.intrinsic == intrinsic_gas(bytes.fromhex(receipt.transaction.data.hex().removeprefix("0x")))
    assert [label for label, _ in parts.calls] == [
        "oracle.price",
        "collateral.balanceOf",
        "collateral.transferFrom",
        "collateral.balanceOf",
    ]
    # The minter's balance, the supply and the pool's assets change, nothing else.
    assert parts.writes == 3
    assert parts.cold_reads * 2_100 == parts.cold_read_gas


def test_breakdown__full_redeem__shows_the_refund_for_the_cleared_balance(
    seeded, pool, collateral, oracle, minter, deadline, chain
):
    receipt = pool.redeem(pool.balanceOf(minter), 0, minter, deadline, sender=minter)

    parts = _split(chain, receipt, {"oracle": oracle, "collateral": collateral})

    assert parts.refund > 0
    assert sum(gas for _, gas, _ in parts.rows()) == receipt.gas_used
    assert [label for label, _ in parts.calls] == ["oracle.price", "collateral.transfer"]
