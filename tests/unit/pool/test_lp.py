"""LP deposit and withdrawal orders as the pool books them: the first deposit, the
backing rule on withdrawals (partial fills), `max_lp_withdraw`, an exhausted pool
recapitalised, a zero NAV, and the escrow bound. The fill at the round's LP value
and request checks are in `tests/unit/orders/`."""

import pytest

from inverse.constants import OUTCOME_FILLED, OUTCOME_PARTIAL, OUTCOME_REFUNDED, WAD
from inverse.deploy import lens_of
from inverse.model import ceil_div
from tests.conftest import INITIAL_PRICE, fund, publish_round, settle_orders

from ..orders.conftest import (
    LP_VIRTUAL_SHARES,
    USDC,
    later,
    latest_round_id,
    market_at,
    requested,
    round_data,
    set_parameters,
    settled,
    wad,
)

SETTLE_FEE = USDC // 10
ZERO = "0x" + "00" * 20


def test_lp_deposit__first__gets_one_share_per_collateral_unit(
    order_pool, lens, book, order_funded, lp, order_lp_token, collateral, deadline, settle
):
    book.request_lp_deposit(1_000 * USDC, 0, lp, deadline, sender=lp)

    receipt = settle()

    # Virtual offset 10**(18-6) shares over 1 virtual asset: 1 LP share per USDC.
    assert order_lp_token.balanceOf(lp) == order_lp_token.totalSupply() == 1_000 * 10**18
    assert order_pool.total_assets() == lens.lp_value() == 1_000 * USDC
    assert collateral.balanceOf(order_pool) == 1_000 * USDC
    assert receipt.events.filter(order_pool.LpDeposit) == [
        order_pool.LpDeposit(sender=lp, receiver=lp, assets=1_000 * USDC, lp_shares=1_000 * 10**18)
    ]
    assert receipt.events.filter(order_lp_token.Transfer) == [
        order_lp_token.Transfer(sender=ZERO, receiver=lp, value=1_000 * 10**18)
    ]


def test_lp_withdraw__all_without_holders__returns_deposit_plus_fees(
    order_seeded,
    order_pool,
    lens,
    book,
    minter,
    lp,
    keeper,
    owner,
    feed,
    order_lp_token,
    collateral,
    chain,
    deadline,
    settle,
):
    book.request_redeem(order_pool.balanceOf(minter), 0, minter, deadline, sender=minter)
    settle()  # no holders left
    shares = order_lp_token.balanceOf(lp)
    cash = collateral.balanceOf(lp)
    order = requested(book.request_lp_withdraw(shares, 0, lp, deadline, sender=lp), book)
    publish_round(feed, owner, chain, after=order.not_before)
    value = lens.lp_value()
    preview = lens.preview_lp_withdraw(shares)

    receipt = book.settle([order.as_struct()], [latest_round_id(feed)], sender=keeper)

    [log] = settled(receipt, order_pool)
    gross = shares * (value + 1) // (shares + LP_VIRTUAL_SHARES)
    assert value - gross <= 1  # the virtual share keeps at most dust
    assert (log.outcome, log.filled, log.out) == (OUTCOME_FILLED, shares, gross - SETTLE_FEE)
    assert log.out == preview
    assert gross > 100_000 * USDC  # both trade fees went to the LP
    assert collateral.balanceOf(lp) == cash + gross - SETTLE_FEE
    assert order_lp_token.totalSupply() == 0
    assert receipt.events.filter(order_pool.LpWithdraw) == [
        order_pool.LpWithdraw(sender=lp, receiver=lp, lp_shares=shares, assets=gross - SETTLE_FEE)
    ]


def test_lp_withdraw__all_while_holders_need_backing__fills_what_the_rule_allows(
    order_seeded, order_pool, lens, book, lp, keeper, owner, feed, order_lp_token, collateral, chain, deadline
):
    shares = order_lp_token.balanceOf(lp)
    cash = collateral.balanceOf(lp)
    order = requested(book.request_lp_withdraw(shares, 0, lp, deadline, sender=lp), book)
    publish_round(feed, owner, chain, INITIAL_PRICE * 99 // 100, after=order.not_before)
    m = market_at(
        order_pool, order_lp_token, wad(INITIAL_PRICE * 99 // 100), round_data(feed, latest_round_id(feed))[2]
    )
    capacity = m.lp_value - ceil_div(order_pool.parameters().min_backing * m.inverse, WAD)
    filled = shares * capacity // m.lp_withdraw(shares)
    assets = min(m.lp_withdraw(filled), capacity)

    [log] = settled(book.settle([order.as_struct()], [latest_round_id(feed)], sender=keeper), order_pool)

    assert (log.outcome, log.filled, log.out, log.refunded) == (
        OUTCOME_PARTIAL,
        filled,
        assets - SETTLE_FEE,
        shares - filled,
    )
    assert order_lp_token.balanceOf(lp) == shares - filled  # the rest came back
    assert order_lp_token.balanceOf(order_pool) == 0
    assert collateral.balanceOf(lp) == cash + assets - SETTLE_FEE
    assert lens.lp_value() * WAD >= order_pool.parameters().min_backing * lens.inverse_value()


def test_max_lp_withdraw__is_lp_value_above_the_backing_rule(order_seeded, order_pool, lens):
    # LP value must stay >= 0.5 * inverse value.
    required = ceil_div(order_pool.parameters().min_backing * lens.inverse_value(), WAD)
    assert lens.max_lp_withdraw() == lens.lp_value() - required > 0


def test_lp_deposit__escrow_past_112_bits__reverts(order_pool, book, collateral, lp, deadline, unchanged):
    room = 2**112 - 1 - SETTLE_FEE
    collateral.mint(lp, 2**121, sender=lp)
    collateral.approve(book, 2**121, sender=lp)
    with unchanged("orders: amount too large"):
        book.request_lp_deposit(room + 1, 0, lp, deadline, sender=lp)
    book.request_lp_deposit(room, 0, lp, deadline, sender=lp)
    assert book.escrowed() == 2**112 - 1


@pytest.fixture
def full_minus_3x(create_market, collateral, lp, minter, deadline, settle_book):
    """A -3x market whose LPs' 1,000 USDC back as large a mint as they can: a crash exhausts it."""
    pool, book, lp_token = create_market(collateral, 3, funds=10**6 * USDC)
    book.request_lp_deposit(1_000 * USDC, 0, lp, deadline, sender=lp)
    settle_book(book)
    book.request_mint(lens_of(pool).max_mint(), 0, minter, deadline, sender=minter)
    settle_book(book)
    return pool, book, lp_token


def test_lp_deposit__into_exhausted_pool__recapitalises_holders_first(
    full_minus_3x, collateral, owner, feed, keeper, redeemer, chain
):
    pool, book, lp_token = full_minus_3x
    lens = lens_of(pool)
    crash = INITIAL_PRICE * 40 // 100
    feed.set_answer(crash, sender=owner, gas=200_000)  # exhausted: NAV capped
    nav_before = pool.nav()
    assert lens.max_mint() == 0 and lens.lp_value() <= 1
    deposit = 5_000 * USDC
    order = requested(
        book.request_lp_deposit(deposit, 0, redeemer, chain.pending_timestamp + 600, sender=redeemer), book
    )
    publish_round(feed, owner, chain, crash, after=order.not_before)
    m = market_at(pool, lp_token, wad(crash), round_data(feed, latest_round_id(feed))[2])
    expected = m.lp_deposit(deposit)
    assert m.nav < m.raw_nav and 0 < expected

    [log] = settled(settle_orders(book, feed, keeper, chain), pool)

    assert (log.outcome, log.out) == (OUTCOME_FILLED, expected)
    assert pool.nav() > nav_before  # holders got their owed value back first
    # The depositor's shares are worth what reached the LP side, not the whole deposit.
    assert lens.preview_lp_withdraw(expected) < deposit


def test_lp_deposit__with_a_bound_into_an_exhausted_pool__refunded_in_full_not_spent_on_holders(
    full_minus_3x, collateral, owner, feed, keeper, redeemer, chain
):
    """A deposit bounded on a healthy preview, settling after a crash exhausted the
    pool, got as many shares as promised while most of its money went to holders
    (300,000 left the depositor 199,933 at -3x after a -55% move). Its bound now
    keeps its value: refunded in full. A bound of 0 still recapitalises."""
    pool, book, lp_token = full_minus_3x
    lens = lens_of(pool)
    assert not lens.exhausted()
    deposit = 5_000 * USDC
    bound = lens.preview_lp_deposit(deposit) * 99 // 100  # a healthy preview, less 1%
    cash = collateral.balanceOf(redeemer)
    order = requested(
        book.request_lp_deposit(deposit, bound, redeemer, chain.pending_timestamp + 600, sender=redeemer), book
    )
    crash = INITIAL_PRICE * 40 // 100
    publish_round(feed, owner, chain, crash, after=order.not_before)  # exhausted at the order's round
    assert lens.exhausted()

    [log] = settled(settle_orders(book, feed, keeper, chain), pool)

    assert (log.outcome, log.refunded) == (OUTCOME_REFUNDED, deposit)
    assert collateral.balanceOf(redeemer) == cash - SETTLE_FEE  # its deposit back; the settle fee paid the settler
    assert lp_token.balanceOf(redeemer) == 0


def test_lp_withdraw__at_zero_nav__lets_lps_take_everything(
    order_seeded, order_pool, book, lp, order_lp_token, collateral, deadline, settle
):
    shares = order_lp_token.balanceOf(lp)
    cash = collateral.balanceOf(lp)
    assets = order_pool.total_assets()
    book.request_lp_withdraw(shares, 0, lp, deadline, sender=lp)

    [log] = settled(settle(answer=INITIAL_PRICE * 2), order_pool)

    assert (log.outcome, log.nav, log.filled) == (OUTCOME_FILLED, 0, shares)
    assert assets - SETTLE_FEE - log.out <= 1
    assert collateral.balanceOf(lp) == cash + log.out
    assert order_pool.total_assets() <= 1


@pytest.fixture
def exhausted_18_decimal_market(create_collateral, create_market, owner, feed, lp, minter, chain, settle_book):
    """Found by the fuzzer on v1: an 18-decimal -1x market whose holders, after a
    55% fall, are owed more than it holds (amounts from a search with the model)."""
    unit = 10**18
    token = create_collateral(18)
    pool, book, lp_token = create_market(token, 1, funds=10**9 * unit)
    # No management fee: the state then does not depend on how many seconds the test takes.
    set_parameters(pool, owner, min_backing=WAD // 10, management_fee=0)
    deadline = chain.pending_timestamp + 3_600
    book.request_lp_deposit(939080865602304989007359, 0, lp, deadline, sender=lp)
    settle_book(book)
    book.request_mint(8840083780341212788330143, 0, minter, deadline, sender=minter)
    settle_book(book)
    feed.set_answer(INITIAL_PRICE * 45 // 100, sender=owner, gas=200_000)  # holders are owed more than there is
    assert pool.nav() < pool.reference_nav() * 155 // 100 and lens_of(pool).max_mint() == 0  # capped: exhausted
    return token, pool, book, lp_token


def test_lp_deposit__small_into_exhausted_18_decimal_pool__refunded(
    exhausted_18_decimal_market, redeemer, chain, settle_book
):
    """With 18 decimals the NAV cap's rounding can leave LP value after a small
    recapitalising deposit a few wei lower than before: no shares, a refund, and
    the preview does not revert."""
    token, pool, book, _ = exhausted_18_decimal_market
    deposit = 1_000 * 10**18  # all of it goes to holders, and rounding shaves LP value
    assert lens_of(pool).preview_lp_deposit(deposit) == 0
    cash = token.balanceOf(redeemer)
    book.request_lp_deposit(deposit, 0, redeemer, chain.pending_timestamp + 600, sender=redeemer)

    [log] = settled(settle_book(book, answer=INITIAL_PRICE * 45 // 100), pool)

    assert (log.outcome, log.out, log.refunded) == (OUTCOME_REFUNDED, 0, deposit)
    assert token.balanceOf(redeemer) == cash - 10**17  # only the settle fee


def test_lp_deposit__making_holders_whole_in_exhausted_18_decimal_pool__earns_shares(
    exhausted_18_decimal_market, redeemer, chain, settle_book
):
    _, pool, book, _ = exhausted_18_decimal_market
    # A recapitalisation is asked with a bound of 0 (any other bound refunds it here).
    book.request_lp_deposit(10**7 * 10**18, 0, redeemer, chain.pending_timestamp + 600, sender=redeemer)

    [log] = settled(settle_book(book, answer=INITIAL_PRICE * 45 // 100), pool)

    assert log.outcome == OUTCOME_FILLED and log.out > 0
    assert lens_of(pool).lp_value() > 0  # recapitalised: holders are owed their full NAV again


@pytest.mark.parametrize("which", ["preview_lp_deposit", "preview_lp_withdraw"])
def test_lp_previews__at_round_price__equal_the_fill(
    which, order_seeded, order_pool, lens, book, lp, keeper, owner, feed, order_lp_token, chain, deadline
):
    if which == "preview_lp_deposit":
        amount = 20_000 * USDC
        order = requested(book.request_lp_deposit(amount, 0, lp, deadline, sender=lp), book)
    else:
        amount = order_lp_token.balanceOf(lp) // 10
        order = requested(book.request_lp_withdraw(amount, 0, lp, deadline, sender=lp), book)
    publish_round(feed, owner, chain, INITIAL_PRICE * 97 // 100, after=order.not_before)
    preview = getattr(lens, which)(amount)

    [log] = settled(book.settle([order.as_struct()], [latest_round_id(feed)], sender=keeper), order_pool)

    assert log.outcome == OUTCOME_FILLED and log.out == preview > 0


def test_lp_withdraw__refused_by_the_backing_rule__pays_its_settler_in_lp_shares_and_moves_no_value(
    order_seeded, order_pool, lens, book, lp, minter, keeper, order_lp_token, collateral, deadline, settle
):
    """Refused LP withdrawals were free to queue and paid their settler nothing while
    the backing rule bound (19 of 20 in the attack, 578,066 gas for 0.10 of fees).
    Each now pays its settler LP shares worth the settle fee out of its own escrowed
    shares: no collateral leaves the pool, and the queue is worth clearing."""
    book.request_mint(lens.max_mint(), 0, minter, deadline, sender=minter)
    settle()
    settle(INITIAL_PRICE * 95 // 100)  # holders gain, LP value falls below the rule's line
    assert lens.max_lp_withdraw() == 0
    shares = order_lp_token.balanceOf(lp) // 100
    for _ in range(20):
        book.request_lp_withdraw(shares, 0, lp, deadline, sender=lp)
    lp_value, lp_supply, cash = lens.lp_value(), order_lp_token.totalSupply(), collateral.balanceOf(keeper)
    assets = order_pool.total_assets()

    receipt = settle(INITIAL_PRICE * 95 // 100)

    logs = settled(receipt, order_pool)
    assert [(log.outcome, log.settle_fee) for log in logs] == [(OUTCOME_REFUNDED, 0)] * 20
    earned = order_lp_token.balanceOf(keeper)
    assert [log.refunded for log in logs] == [shares - earned // 20] * 20
    # Worth the 20 settle fees, in LP shares (at the round's LP value, a few seconds'
    # management fee from the one read here).
    assert abs(earned * lp_value // lp_supply - 20 * SETTLE_FEE) <= 20 * SETTLE_FEE // 1_000
    assert collateral.balanceOf(keeper) == cash and order_pool.total_assets() == assets
    assert lens.lp_value() >= lp_value and order_lp_token.totalSupply() == lp_supply  # (fees accrue to LPs)
    assert order_lp_token.balanceOf(order_pool) == 0


def test_lp_withdraw__refused_and_settled_by_its_own_requester__attacker_profit_not_positive(
    order_seeded, order_pool, lens, book, lp, minter, order_lp_token, collateral, deadline, settle
):
    """A refused withdrawal now pays its settler in its own LP shares: an LP who
    queues refused withdrawals and settles them himself takes nothing from the
    pool or the other LPs; his shares just come back to him."""
    book.request_mint(lens.max_mint(), 0, minter, deadline, sender=minter)
    settle()
    settle(INITIAL_PRICE * 95 // 100)  # the backing rule binds
    assert lens.max_lp_withdraw() == 0
    shares, cash = order_lp_token.balanceOf(lp), collateral.balanceOf(lp)
    for _ in range(5):
        book.request_lp_withdraw(shares // 100, 0, lp, deadline, sender=lp)

    logs = settled(settle(INITIAL_PRICE * 95 // 100, settler=lp), order_pool)

    assert [log.outcome for log in logs] == [OUTCOME_REFUNDED] * 5
    profit = (order_lp_token.balanceOf(lp) - shares) * lens.lp_value() // order_lp_token.totalSupply()
    profit += collateral.balanceOf(lp) - cash
    assert profit <= 0


def test_lp_deposit__recapitalising_for_one_round_then_withdrawing__attacker_profit_not_positive(
    full_minus_3x, collateral, owner, feed, keeper, stranger, chain
):
    """Liquidity for one round in an exhausted pool: a deposit with a bound of 0
    first makes holders whole, so depositing and withdrawing at the next round,
    at the same price, returns less than it put in."""
    pool, book, lp_token = full_minus_3x
    lens = lens_of(pool)
    fund(collateral, stranger, book, 100_000 * USDC)
    crash = INITIAL_PRICE * 40 // 100
    publish_round(feed, owner, chain, crash)
    assert lens.exhausted()
    cash = collateral.balanceOf(stranger)
    deposit = requested(book.request_lp_deposit(20_000 * USDC, 0, stranger, later(chain), sender=stranger), book)
    publish_round(feed, owner, chain, crash, after=deposit.not_before)
    recapitalised = settle_orders(book, feed, keeper, chain)
    # A second after the deposit's rescale (a request in its second is refused).
    chain.pending_timestamp = chain.blocks[recapitalised.block_number].timestamp + 1
    withdraw = requested(
        book.request_lp_withdraw(lp_token.balanceOf(stranger), 0, stranger, later(chain), sender=stranger), book
    )
    publish_round(feed, owner, chain, crash, after=withdraw.not_before)
    settle_orders(book, feed, keeper, chain)

    left = lp_token.balanceOf(stranger)  # what the backing rule kept back, at its value
    profit = collateral.balanceOf(stranger) - cash + (lens.preview_lp_withdraw(left) if left else 0)
    assert profit <= 0
