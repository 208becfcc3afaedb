"""Requests: what each of the four kinds escrows, the order it records, and every
bad input, which reverts with its reason and changes nothing."""

import ape
import pytest
from eth_abi import decode
from hexbytes import HexBytes

from inverse.constants import (
    DEFAULT_PARAMETER_DELAY,
    ORDER_LP_DEPOSIT,
    ORDER_LP_WITHDRAW,
    ORDER_MINT,
    ORDER_PENDING,
    ORDER_REDEEM,
    ORDER_SETTLED,
    ORDER_UNKNOWN,
)
from tests.conftest import publish_round, settle_orders

from .conftest import USDC, queue_parameters, requested, settled, state

SETTLE_FEE = USDC // 10
MIN_DELAY = 120


def _check_order_requested(tx, book, pool, feed, *, order_id, requester, receiver, kind, amount, min_out, trade_fee):
    [log] = tx.events.filter(book.OrderRequested)
    assert log.order_id == order_id == tx.return_value
    assert log.requester == requester.address
    assert log.receiver == receiver.address
    assert log.kind == kind
    assert log.amount == amount
    assert log.min_out == min_out
    assert log.requested_at == tx.timestamp
    assert log.not_before == tx.timestamp + MIN_DELAY
    assert log.phase == feed.phaseId() == 1
    assert log.trade_fee == trade_fee
    assert log.settle_fee == SETTLE_FEE
    assert log.max_wait == pool.parameters().max_wait
    status = book.order(order_id)
    assert status.status == ORDER_PENDING
    assert status.not_before == tx.timestamp + MIN_DELAY
    assert status.phase == 1


# ---------------------------------------------------------------- what each kind escrows


def test_request_mint__funded__escrows_collateral_and_settle_fee_outside_assets(
    order_pool, book, order_funded, minter, redeemer, collateral, feed, deadline
):
    assets = 1_000 * USDC
    user_before = collateral.balanceOf(minter)
    pool_before = collateral.balanceOf(order_pool)

    tx = book.request_mint(assets, 7, redeemer, deadline, sender=minter)

    assert tx.return_value == 1
    assert collateral.balanceOf(minter) == user_before - assets - SETTLE_FEE
    assert collateral.balanceOf(order_pool) == pool_before + assets + SETTLE_FEE
    assert collateral.balanceOf(book) == 0
    assert book.escrowed() == assets + SETTLE_FEE
    assert order_pool.total_assets() == 0  # escrow is outside A
    assert order_pool.totalSupply() == 0 and order_pool.balanceOf(redeemer) == 0
    assert book.pending_orders() == 1 and book.next_order() == 1
    _check_order_requested(
        tx,
        book,
        order_pool,
        feed,
        order_id=1,
        requester=minter,
        receiver=redeemer,
        kind=ORDER_MINT,
        amount=assets,
        min_out=7,
        trade_fee=order_pool.parameters().mint_fee,
    )


def test_request_lp_deposit__funded__escrows_collateral_and_settle_fee_outside_assets(
    order_pool, book, order_funded, lp, redeemer, collateral, feed, order_lp_token, deadline
):
    assets = 50_000 * USDC
    user_before = collateral.balanceOf(lp)

    tx = book.request_lp_deposit(assets, 3, redeemer, deadline, sender=lp)

    assert tx.return_value == 1
    assert collateral.balanceOf(lp) == user_before - assets - SETTLE_FEE
    assert collateral.balanceOf(order_pool) == assets + SETTLE_FEE
    assert book.escrowed() == assets + SETTLE_FEE
    assert order_pool.total_assets() == 0
    assert order_lp_token.totalSupply() == 0 and order_lp_token.balanceOf(redeemer) == 0
    _check_order_requested(
        tx,
        book,
        order_pool,
        feed,
        order_id=1,
        requester=lp,
        receiver=redeemer,
        kind=ORDER_LP_DEPOSIT,
        amount=assets,
        min_out=3,
        trade_fee=0,
    )


def test_request_redeem__holder__moves_tokens_to_pool_escrow_supply_unchanged(
    order_seeded, order_pool, book, minter, redeemer, collateral, feed, deadline
):
    shares = order_pool.balanceOf(minter) // 2
    balance = order_pool.balanceOf(minter)
    supply = order_pool.totalSupply()
    assets = order_pool.total_assets()
    escrowed = book.escrowed()
    cash = collateral.balanceOf(minter)

    tx = book.request_redeem(shares, 11, redeemer, deadline, sender=minter)

    assert tx.return_value == 3  # the seed used 1 and 2
    assert order_pool.balanceOf(minter) == balance - shares
    assert order_pool.balanceOf(order_pool) == shares
    assert order_pool.totalSupply() == supply  # still exposed until its round
    assert order_pool.total_assets() == assets
    assert book.escrowed() == escrowed == 0  # no collateral escrowed for an exit
    assert collateral.balanceOf(minter) == cash  # the settle fee comes out of the payout
    _check_order_requested(
        tx,
        book,
        order_pool,
        feed,
        order_id=3,
        requester=minter,
        receiver=redeemer,
        kind=ORDER_REDEEM,
        amount=shares,
        min_out=11,
        trade_fee=order_pool.parameters().redeem_fee,
    )


def test_request_lp_withdraw__lp__moves_shares_to_pool_escrow_supply_unchanged(
    order_seeded, order_pool, book, lp, redeemer, collateral, feed, order_lp_token, deadline
):
    balance = order_lp_token.balanceOf(lp)
    lp_shares = balance // 10
    lp_supply = order_lp_token.totalSupply()
    cash = collateral.balanceOf(lp)

    tx = book.request_lp_withdraw(lp_shares, 13, redeemer, deadline, sender=lp)

    assert tx.return_value == 3
    assert order_lp_token.balanceOf(lp) == balance - lp_shares
    assert order_lp_token.balanceOf(order_pool) == lp_shares
    assert order_lp_token.totalSupply() == lp_supply
    assert collateral.balanceOf(lp) == cash
    assert book.escrowed() == 0
    _check_order_requested(
        tx,
        book,
        order_pool,
        feed,
        order_id=3,
        requester=lp,
        receiver=redeemer,
        kind=ORDER_LP_WITHDRAW,
        amount=lp_shares,
        min_out=13,
        trade_fee=0,
    )


def test_request__four_kinds_in_turn__ids_count_up_from_1(
    order_pool, book, order_funded, lp, minter, deadline, settle, order_lp_token
):
    assert book.order(1).status == ORDER_UNKNOWN
    assert book.request_lp_deposit(100_000 * USDC, 0, lp, deadline, sender=lp).return_value == 1
    assert book.request_mint(10_000 * USDC, 0, minter, deadline, sender=minter).return_value == 2
    settle()
    assert book.order(1).status == book.order(2).status == ORDER_SETTLED
    assert book.request_redeem(order_pool.balanceOf(minter) // 2, 0, minter, deadline, sender=minter).return_value == 3
    assert book.request_lp_withdraw(order_lp_token.balanceOf(lp) // 2, 0, lp, deadline, sender=lp).return_value == 4
    assert book.pending_orders() == 2 and book.next_order() == 3
    assert book.order(5).status == ORDER_UNKNOWN


def test_request__escrows_add_up__escrowed_is_their_sum(
    order_pool, book, order_funded, lp, minter, collateral, deadline
):
    book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)
    book.request_lp_deposit(2_000 * USDC, 0, lp, deadline, sender=lp)
    book.request_mint(30 * USDC, 0, minter, deadline, sender=minter)

    assert book.escrowed() == 3_030 * USDC + 3 * SETTLE_FEE
    assert collateral.balanceOf(order_pool) == book.escrowed()


def test_request__min_delay_lowered__T_never_decreases(order_pool, book, order_funded, owner, minter, feed, chain):
    ready_at = queue_parameters(order_pool, owner, min_delay=30).timestamp + DEFAULT_PARAMETER_DELAY
    publish_round(feed, owner, chain, after=ready_at)
    deadline = ready_at + 3_600
    first = book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)
    order_pool.rebalance(sender=owner)  # applies the shorter delay; the first order's round is not out
    chain.mine(timestamp=first.timestamp + 10)

    second = book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)
    t_first = requested(first, book).not_before
    t_second = requested(second, book).not_before

    assert t_first == first.timestamp + MIN_DELAY
    assert second.timestamp + 30 < t_first  # what min_delay alone would give
    assert t_second == t_first == book.order(2).not_before
    # Once the queue's T is behind, the new delay applies.
    chain.mine(timestamp=t_first + 100)
    third = book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)
    assert requested(third, book).not_before == third.timestamp + 30


# ---------------------------------------------------------------- bad input


@pytest.fixture
def unchanged_book(order_pool, book, collateral, order_lp_token, accounts):
    """`with unchanged_book("orders: reason"):` the call reverts with that reason and
    no balance, supply, escrow or queue position moved."""
    from contextlib import contextmanager

    @contextmanager
    def check(reason):
        users = list(accounts)[:8]
        before = state(order_pool, book, collateral, order_lp_token, users)
        with ape.reverts(reason):
            yield
        assert state(order_pool, book, collateral, order_lp_token, users) == before

    return check


def _request(kind, book, pool, lp_token, user, amount, receiver, deadline, min_out=0):
    function = {
        "mint": book.request_mint,
        "redeem": book.request_redeem,
        "lp_deposit": book.request_lp_deposit,
        "lp_withdraw": book.request_lp_withdraw,
    }[kind]
    return function(amount, min_out, receiver, deadline, sender=user)


def _user(kind, minter, lp):
    return minter if kind in ("mint", "redeem") else lp


def _amount(kind):
    return 1_000 * USDC if kind in ("mint", "lp_deposit") else 10**20


KINDS = ["mint", "redeem", "lp_deposit", "lp_withdraw"]


@pytest.mark.parametrize("kind", KINDS)
def test_request__zero_amount__reverts(
    kind, order_seeded, order_pool, book, order_lp_token, minter, lp, deadline, unchanged_book
):
    user = _user(kind, minter, lp)
    with unchanged_book("orders: zero amount"):
        _request(kind, book, order_pool, order_lp_token, user, 0, user, deadline)


@pytest.mark.parametrize("kind", KINDS)
def test_request__zero_receiver__reverts(
    kind, order_seeded, order_pool, book, order_lp_token, minter, lp, deadline, unchanged_book
):
    user = _user(kind, minter, lp)
    with unchanged_book("orders: zero receiver"):
        _request(kind, book, order_pool, order_lp_token, user, _amount(kind), "0x" + "00" * 20, deadline)


@pytest.mark.parametrize("target", ["pool", "lp_token", "book"])
@pytest.mark.parametrize("kind", KINDS)
def test_request__receiver_is_the_pool__reverts(
    kind, target, order_seeded, order_pool, book, order_lp_token, minter, lp, deadline, unchanged_book
):
    user = _user(kind, minter, lp)
    receiver = {"pool": order_pool, "lp_token": order_lp_token, "book": book}[target]
    with unchanged_book("orders: receiver is the pool"):
        _request(kind, book, order_pool, order_lp_token, user, _amount(kind), receiver, deadline)


@pytest.mark.parametrize("kind", KINDS)
def test_request__deadline_passed__reverts(
    kind, order_seeded, order_pool, book, order_lp_token, minter, lp, chain, unchanged_book
):
    user = _user(kind, minter, lp)
    with unchanged_book("orders: deadline passed"):
        _request(kind, book, order_pool, order_lp_token, user, _amount(kind), user, chain.pending_timestamp - 1)


@pytest.mark.parametrize("kind", ["mint", "lp_deposit"])
def test_request__entry_below_min_order__reverts(
    kind, order_seeded, order_pool, book, order_lp_token, minter, lp, deadline, unchanged_book
):
    assert order_pool.parameters().min_order == 10 * USDC
    user = _user(kind, minter, lp)
    with unchanged_book("orders: below min order"):
        _request(kind, book, order_pool, order_lp_token, user, 9 * USDC, user, deadline)
    # Exactly the minimum is taken.
    assert _request(kind, book, order_pool, order_lp_token, user, 10 * USDC, user, deadline).return_value == 3


def test_request_redeem__part_of_balance_below_min_order__reverts(
    order_seeded, order_pool, book, order_lp_token, minter, deadline, unchanged_book
):
    # 9 tokens are worth about 9 USDC at the reference NAV of 1.
    with unchanged_book("orders: below min order"):
        book.request_redeem(9 * 10**18, 0, minter, deadline, sender=minter)


def test_request_lp_withdraw__part_of_balance_below_min_order__reverts(
    order_seeded, order_pool, book, order_lp_token, lp, deadline, unchanged_book
):
    # A whole LP share is worth about one USDC: 9e18 shares are about 9 USDC.
    with unchanged_book("orders: below min order"):
        book.request_lp_withdraw(9 * 10**18, 0, lp, deadline, sender=lp)


def test_request_redeem__whole_small_balance__accepted_and_settles(
    order_seeded, order_pool, book, minter, redeemer, collateral, deadline, settle
):
    order_pool.transfer(redeemer, 5 * 10**18, sender=minter)  # about 5 USDC: below min_order
    cash = collateral.balanceOf(redeemer)

    order_id = book.request_redeem(5 * 10**18, 0, redeemer, deadline, sender=redeemer).return_value
    assert order_id == 3
    assert order_pool.balanceOf(redeemer) == 0
    [log] = settled(settle(), order_pool)

    assert log.order_id == 3 and log.outcome == 1
    assert collateral.balanceOf(redeemer) == cash + log.out
    assert 4 * USDC < log.out < 5 * USDC  # net of the redeem fee and the settle fee


def test_request_lp_withdraw__whole_small_balance__accepted(
    order_seeded, order_pool, book, order_lp_token, lp, redeemer, deadline
):
    order_lp_token.transfer(redeemer, 10**18, sender=lp)  # about 1 USDC of LP value

    assert book.request_lp_withdraw(10**18, 0, redeemer, deadline, sender=redeemer).return_value == 3
    assert order_lp_token.balanceOf(redeemer) == 0


@pytest.mark.parametrize("kind", ["mint", "lp_deposit"])
def test_request__paused_by_guardian__entries_revert_closed(
    kind, order_seeded, order_pool, book, order_lp_token, guardian, minter, lp, deadline, unchanged_book
):
    order_pool.pause(sender=guardian)
    user = _user(kind, minter, lp)
    with unchanged_book("orders: closed"):
        _request(kind, book, order_pool, order_lp_token, user, _amount(kind), user, deadline)


def test_request__paused_by_guardian__exits_still_accepted_and_pending_orders_settle(
    order_seeded, order_pool, book, order_lp_token, guardian, minter, lp, deadline, settle
):
    book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter)  # pending when paused
    order_pool.pause(sender=guardian)

    assert book.request_redeem(10**20, 0, minter, deadline, sender=minter).return_value == 4
    assert book.request_lp_withdraw(order_lp_token.balanceOf(lp) // 10, 0, lp, deadline, sender=lp).return_value == 5
    logs = settled(settle(), order_pool)
    assert [(log.order_id, log.outcome) for log in logs] == [(3, 1), (4, 1), (5, 1)]


def test_request_redeem__above_balance__reverts(order_seeded, order_pool, book, minter, deadline, unchanged_book):
    balance = order_pool.balanceOf(minter)
    with unchanged_book("pool: redeem exceeds balance"):
        book.request_redeem(balance + 1, 0, minter, deadline, sender=minter)


def test_request_redeem__no_balance__reverts(order_seeded, order_pool, book, stranger, deadline, unchanged_book):
    with unchanged_book("pool: redeem exceeds balance"):
        book.request_redeem(10**20, 0, stranger, deadline, sender=stranger)


def test_request_lp_withdraw__above_balance__reverts(
    order_seeded, order_pool, book, order_lp_token, lp, deadline, unchanged_book
):
    balance = order_lp_token.balanceOf(lp)
    with unchanged_book("pool: withdraw exceeds balance"):
        book.request_lp_withdraw(balance + 1, 0, lp, deadline, sender=lp)


@pytest.mark.parametrize("kind", KINDS)
def test_request__min_out_above_2_128__reverts(
    kind, order_seeded, order_pool, book, order_lp_token, minter, lp, deadline, unchanged_book
):
    user = _user(kind, minter, lp)
    with unchanged_book("orders: min out too large"):
        _request(kind, book, order_pool, order_lp_token, user, _amount(kind), user, deadline, min_out=2**128)


def test_request_mint__not_approved__reverts_and_changes_nothing(
    order_seeded, order_pool, book, stranger, collateral, deadline, unchanged_book
):
    collateral.mint(stranger, 1_000 * USDC, sender=stranger)
    with unchanged_book(None):
        book.request_mint(1_000 * USDC, 0, stranger, deadline, sender=stranger)


def test_request_shutdown__not_the_pool__reverts(order_seeded, order_pool, book, stranger, unchanged_book):
    terms = book.terms()
    with unchanged_book("orders: caller is not the pool"):
        book.request_shutdown(stranger, terms, sender=stranger)


def test_set_terms__not_the_pool__reverts(order_seeded, book, stranger, unchanged_book):
    terms = book.terms()
    with unchanged_book("orders: caller is not the pool"):
        book.set_terms((True, False, 0, 0, 0, 0, 0, 0), sender=stranger)
    assert book.terms() == terms


def test_current_phase__new_phases__recorded_by_the_next_request(order_seeded, book, feed, owner, minter, deadline):
    assert book.current_phase() == 1 and book.feed() == feed.address
    feed.new_phase(2_000 * 10**8, sender=owner)
    feed.new_phase(2_000 * 10**8, sender=owner)
    assert book.current_phase() == 3
    assert requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book).phase == 3


def test_current_phase__reverting_feed__is_0_so_orders_still_queue(order_seeded, book, feed, owner, minter, deadline):
    feed.set_reverting(True, sender=owner)
    assert book.current_phase() == 0
    assert requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book).phase == 0


def test_current_phase__phase_id_reverts__read_from_the_latest_round_id(
    order_seeded, book, feed, owner, minter, deadline
):
    feed.new_phase(2_000 * 10**8, sender=owner)
    feed.set_phase_id_reverting(True, sender=owner)
    with ape.reverts("mock: phaseId reverted"):
        feed.phaseId()
    assert book.current_phase() == 2
    assert requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book).phase == 2


def test_current_phase__too_little_gas__reverts_and_never_answers_0(book, feed, owner):
    feed.set_read_gas(300_000, sender=owner)  # a costly phaseId(): its 1/32 would pay for the rest
    call = book.current_phase.encode_input()
    answers = []
    for gas in range(30_000, 600_000, 10_000):
        tx = {"to": book.address, "data": HexBytes(call).to_0x_hex(), "gas": hex(gas)}
        try:
            answers.append(decode(["uint256"], HexBytes(book.provider.make_request("eth_call", [tx, "latest"])))[0])
        except Exception as error:  # noqa: BLE001 - the error's text is the answer
            answers.append(str(error))
    assert all(answer == 1 or isinstance(answer, str) for answer in answers)
    assert any(isinstance(answer, str) and "orders: out of gas" in answer for answer in answers)
    assert answers[-1] == 1


def test_is_pending__the_order_as_requested__true_until_settled_false_for_any_other(
    order_seeded, book, minter, keeper, feed, chain, deadline
):
    order = requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    fields = order.as_struct()
    assert book.is_pending(fields)
    for i, other in ((4, order.amount - 1), (5, 1), (9, order.trade_fee + 1), (11, order.max_wait + 1)):
        assert not book.is_pending(fields[:i] + (other,) + fields[i + 1 :])
    assert not book.is_pending((order.id + 1,) + fields[1:])
    publish_round(feed, keeper, chain, after=order.not_before)
    settle_orders(book, feed, keeper, chain)
    assert not book.is_pending(fields)
