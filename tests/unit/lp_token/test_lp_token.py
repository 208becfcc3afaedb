"""The LP share token: only its pool mints, burns and escrows; shares move like any
ERC-20, and whoever holds them can withdraw."""

import ape

from inverse.constants import OUTCOME_FILLED


def test_mint_burn_and_escrow__by_anyone_but_the_pool__revert(order_seeded, order_lp_token, lp, stranger, owner):
    with ape.reverts("lp: caller is not the pool"):
        order_lp_token.mint(stranger, 1, sender=stranger)
    with ape.reverts("lp: caller is not the pool"):
        order_lp_token.burn(lp, 0, sender=owner)
    with ape.reverts("lp: caller is not the pool"):
        order_lp_token.escrow(lp, 10**18, sender=stranger)  # would move an LP's shares


def test_transfer__of_lp_shares__moves_the_claim(
    order_seeded, order_pool, book, order_lp_token, lp, stranger, collateral, chain, settle
):
    tx = order_lp_token.transfer(stranger, 20 * 10**18, sender=lp)
    assert tx.events.filter(order_lp_token.Transfer) == [
        order_lp_token.Transfer(sender=lp, receiver=stranger, value=20 * 10**18)
    ]
    book.request_lp_withdraw(20 * 10**18, 0, stranger, chain.pending_timestamp + 600, sender=stranger)
    assert order_lp_token.balanceOf(stranger) == 0
    [log] = settle().events.filter(order_pool.OrderSettled)
    assert log.outcome == OUTCOME_FILLED and collateral.balanceOf(stranger) == log.out > 19 * 10**6


def test_abi__has_no_open_mint_or_minter_role(order_lp_token):
    names = {abi.name for abi in order_lp_token.contract_type.abi if hasattr(abi, "name")}
    assert {"set_minter", "is_minter", "burn_from", "renounce_ownership", "transfer_ownership"}.isdisjoint(names)
    assert {"permit", "nonces", "DOMAIN_SEPARATOR", "pool", "escrow"} <= names
