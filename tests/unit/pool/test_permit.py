"""Mint and LP deposit requests in one transaction with an EIP-2612 permit on the
collateral (for the order book: amount plus settle fee), and the wallet code
choosing between allowance, permit and approve."""

import ape
import pytest

from inverse import wallet
from inverse.constants import ORDER_LP_DEPOSIT, ORDER_MINT, OUTCOME_FILLED
from inverse.wallet import permit_domain, sign_permit

from ..orders.conftest import USDC, requested, settled

SETTLE_FEE = USDC // 10
BAD_SIGNATURE = (27, b"\x01" * 32, b"\x02" * 32)


@pytest.fixture
def lp_seeded(order_pool, book, collateral, lp, deadline, settle):
    """The default market with 100,000 USDC of LP liquidity; the other users have
    approved nothing."""
    collateral.mint(lp, 100_000 * USDC + SETTLE_FEE, sender=lp)
    collateral.approve(book, 100_000 * USDC + SETTLE_FEE, sender=lp)
    book.request_lp_deposit(100_000 * USDC, 0, lp, deadline, sender=lp)
    settle()
    return order_pool


def test_request_mint_with_permit__without_approval__queues_and_uses_the_permit_up(
    lp_seeded, order_pool, book, collateral, minter, deadline, settle
):
    collateral.mint(minter, 1_000 * USDC + SETTLE_FEE, sender=minter)
    v, r, s = sign_permit(collateral, minter, book, 1_000 * USDC + SETTLE_FEE, deadline)

    tx = book.request_mint_with_permit(1_000 * USDC, 0, minter, deadline, v, r, s, sender=minter)

    order = requested(tx, book)
    assert (order.kind, order.amount, order.receiver) == (ORDER_MINT, 1_000 * USDC, minter.address)
    assert collateral.balanceOf(minter) == 0
    assert collateral.allowance(minter, book) == 0
    assert collateral.nonces(minter) == 1
    [log] = settled(settle(), order_pool)
    assert log.outcome == OUTCOME_FILLED and order_pool.balanceOf(minter) == log.out > 0


def test_request_lp_deposit_with_permit__without_approval__queues(
    lp_seeded, order_pool, book, collateral, stranger, deadline, settle, project
):
    collateral.mint(stranger, 5_000 * USDC + SETTLE_FEE, sender=stranger)
    v, r, s = sign_permit(collateral, stranger, book, 5_000 * USDC + SETTLE_FEE, deadline)

    tx = book.request_lp_deposit_with_permit(5_000 * USDC, 0, stranger, deadline, v, r, s, sender=stranger)

    assert requested(tx, book).kind == ORDER_LP_DEPOSIT
    assert collateral.allowance(stranger, book) == 0
    [log] = settled(settle(), order_pool)
    assert project.LpToken.at(order_pool.lp_token()).balanceOf(stranger) == log.out > 0


def test_request_mint_with_permit__signature_submitted_first_by_someone_else__still_queues(
    lp_seeded, book, collateral, minter, stranger, deadline
):
    amount = 1_000 * USDC + SETTLE_FEE
    collateral.mint(minter, amount, sender=minter)
    v, r, s = sign_permit(collateral, minter, book, amount, deadline)
    # Front-running: the signature, seen in the mempool, is applied directly.
    collateral.permit(minter, book, amount, deadline, v, r, s, sender=stranger)

    assert book.request_mint_with_permit(1_000 * USDC, 0, minter, deadline, v, r, s, sender=minter).return_value == 2
    assert collateral.allowance(minter, book) == 0


def test_request_mint_with_permit__permit_for_the_amount_without_settle_fee__reverts(
    lp_seeded, book, collateral, minter, deadline, unchanged
):
    collateral.mint(minter, 2_000 * USDC, sender=minter)
    v, r, s = sign_permit(collateral, minter, book, 1_000 * USDC, deadline)  # signed for too little

    with unchanged("orders: permit failed"):
        book.request_mint_with_permit(1_000 * USDC, 0, minter, deadline, v, r, s, sender=minter)


def test_request_mint_with_permit__bad_signature_with_allowance__uses_the_allowance(
    lp_seeded, book, collateral, minter, deadline
):
    collateral.mint(minter, 1_000 * USDC + SETTLE_FEE, sender=minter)
    collateral.approve(book, 1_000 * USDC + SETTLE_FEE, sender=minter)

    assert book.request_mint_with_permit(1_000 * USDC, 0, minter, deadline, *BAD_SIGNATURE, sender=minter).return_value
    assert collateral.nonces(minter) == 0
    assert collateral.balanceOf(minter) == 0


def test_request_mint_with_permit__deadline_passed__says_so(lp_seeded, book, collateral, minter, chain, unchanged):
    collateral.mint(minter, 2_000 * USDC, sender=minter)
    past = chain.pending_timestamp - 1
    v, r, s = sign_permit(collateral, minter, book, 1_000 * USDC + SETTLE_FEE, past)

    with unchanged("orders: deadline passed"):
        book.request_mint_with_permit(1_000 * USDC, 0, minter, past, v, r, s, sender=minter)


@pytest.mark.parametrize("kind", ["mint", "lp_deposit"])
def test_request_with_permit__while_paused__reverts_and_leaves_the_permit_unused(
    kind, lp_seeded, order_pool, book, collateral, guardian, minter, deadline, unchanged
):
    collateral.mint(minter, 2_000 * USDC, sender=minter)
    v, r, s = sign_permit(collateral, minter, book, 1_000 * USDC + SETTLE_FEE, deadline)
    order_pool.pause(sender=guardian)
    request = book.request_mint_with_permit if kind == "mint" else book.request_lp_deposit_with_permit

    with unchanged("orders: closed"):
        request(1_000 * USDC, 0, minter, deadline, v, r, s, sender=minter)
    assert collateral.nonces(minter) == 0


def test_request_with_permit__collateral_without_permit__uses_the_allowance(
    create_market, owner, lp, minter, chain, project
):
    usdt = owner.deploy(project.MockUsdt)
    _, book, _ = create_market(usdt)
    deadline = chain.pending_timestamp + 3_600
    usdt.mint(minter, 10_000 * USDC, sender=minter)

    with ape.reverts("orders: permit failed"):
        book.request_lp_deposit_with_permit(1_000 * USDC, 0, minter, deadline, *BAD_SIGNATURE, sender=minter)
    usdt.approve(book, 1_000 * USDC + SETTLE_FEE, sender=minter)
    assert (
        book.request_lp_deposit_with_permit(
            1_000 * USDC, 0, minter, deadline, *BAD_SIGNATURE, sender=minter
        ).return_value
        == 1
    )


def test_permit_domain__reproduces_each_tokens_domain_separator(order_pool, collateral, order_lp_token, project, owner):
    for token in (collateral, order_pool, order_lp_token):
        domain = permit_domain(token.address)
        assert domain is not None
        assert bytes(domain.separator) == bytes(token.DOMAIN_SEPARATOR())
    assert permit_domain(owner.deploy(project.MockUsdt).address) is None


def test_wallet__pays_the_book_by_allowance_then_permit_then_approve(
    lp_seeded, order_pool, book, collateral, create_market, minter, owner, project
):
    collateral.mint(minter, 3_000 * USDC, sender=minter)
    collateral.approve(book, 1_000 * USDC + SETTLE_FEE, sender=minter)
    assert wallet.how_to_pay_order(order_pool, book, minter, 1_000 * USDC) == "allowance"
    wallet.request_entry(ORDER_MINT, order_pool, book, minter, 1_000 * USDC, 0)
    assert collateral.nonces(minter) == 0  # the allowance was enough: no signature

    assert wallet.how_to_pay_order(order_pool, book, minter, 1_000 * USDC) == "permit"
    tx = wallet.request_entry(ORDER_MINT, order_pool, book, minter, 1_000 * USDC, 0)
    assert tx.method_called.name == "request_mint_with_permit"
    assert collateral.nonces(minter) == 1
    assert collateral.allowance(minter, book) == 0

    usdt = owner.deploy(project.MockUsdt)
    usdt_pool, usdt_book, _ = create_market(usdt)
    usdt.mint(minter, 2_000 * USDC, sender=minter)
    assert wallet.how_to_pay_order(usdt_pool, usdt_book, minter, 1_000 * USDC) == "approve"
    tx = wallet.request_entry(ORDER_LP_DEPOSIT, usdt_pool, usdt_book, minter, 1_000 * USDC, 0)
    assert tx.method_called.name == "request_lp_deposit"
    assert usdt.balanceOf(minter) == 1_000 * USDC - SETTLE_FEE
