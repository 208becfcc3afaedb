"""Collateral the market meets in the wild: 6 and 18 decimals, USDT-style (no bool),
fee-on-transfer (refused), a token that calls back (stopped by the locks), one that
refuses a payout (credited to `claimable`), and donations (ignored)."""

import ape
import pytest

from inverse.constants import OUTCOME_FILLED, WAD
from inverse.deploy import lens_of
from inverse.orders import settlement_batch
from tests.conftest import INITIAL_PRICE, fund, publish_round

from ..orders.conftest import requested, set_parameters, settled

SETTLE_FEE_UNITS = 10  # a tenth of a unit


@pytest.mark.parametrize("decimals", [6, 18])
def test_full_cycle__with_collateral_decimals__round_trips_at_nav(
    create_collateral, create_market, feed, owner, lp, minter, keeper, chain, settle_book, decimals
):
    unit = 10**decimals
    token = create_collateral(decimals)
    pool, book, lp_token = create_market(token, 1, funds=10**6 * unit)
    deadline = chain.pending_timestamp + 86_400 * 3
    assert pool.parameters().settle_fee == unit // SETTLE_FEE_UNITS and pool.parameters().min_order == 10 * unit

    book.request_lp_deposit(10_000 * unit, 0, lp, deadline, sender=lp)
    settle_book(book)
    assert lp_token.balanceOf(lp) == 10_000 * 10**18  # one LP share per unit, any decimals
    book.request_mint(1_000 * unit, 0, minter, deadline, sender=minter)
    [mint] = settled(settle_book(book), pool)
    shares = pool.balanceOf(minter)
    assert shares == mint.out == 999 * unit * 10 ** (36 - decimals) // mint.nav  # less the 0.1% fee
    assert WAD * 99_999 // 100_000 < mint.nav < WAD  # 1, less seconds of management fee

    chain.mine(deltatime=86_400)
    publish_round(feed, owner, chain, INITIAL_PRICE * 95 // 100)
    assert pool.rebalance(sender=keeper).return_value == unit  # bounty: one collateral unit
    nav = pool.reference_nav()
    assert WAD * 104 // 100 < nav < WAD * 105 // 100

    book.request_redeem(shares, 0, minter, deadline, sender=minter)
    [redeem] = settled(settle_book(book), pool)
    gross = shares * redeem.nav // 10 ** (36 - decimals)
    assert redeem.out == gross - -(-gross // 1_000) - unit // SETTLE_FEE_UNITS
    assert token.balanceOf(pool) == pool.total_assets() == lens_of(pool).lp_value()


def test_usdt_style_collateral__returning_no_bool__works(create_market, owner, lp, minter, chain, settle_book, project):
    usdt = owner.deploy(project.MockUsdt)
    pool, book, _ = create_market(usdt)
    for account in (lp, minter):
        usdt.mint(account, 10**12, sender=account)
        usdt.approve(book, 10**12, sender=account)
    deadline = chain.pending_timestamp + 3_600

    book.request_lp_deposit(10_000 * 10**6, 0, lp, deadline, sender=lp)
    book.request_mint(1_000 * 10**6, 0, minter, deadline, sender=minter)
    settle_book(book)
    before = usdt.balanceOf(minter)
    book.request_redeem(pool.balanceOf(minter), 0, minter, deadline, sender=minter)
    [log] = settled(settle_book(book), pool)
    assert log.outcome == OUTCOME_FILLED
    assert usdt.balanceOf(minter) == before + log.out > 0
    assert usdt.balanceOf(pool) == pool.total_assets()


def test_fee_on_transfer_collateral__is_refused(create_market, owner, lp, chain, project):
    token = owner.deploy(project.MockFeeToken)
    pool, book, _ = create_market(token)
    fund(token, lp, book, 10**24)
    with ape.reverts("orders: fee-on-transfer collateral"):
        book.request_lp_deposit(10**21, 0, lp, chain.pending_timestamp + 3_600, sender=lp)
    assert book.escrowed() == book.pending_orders() == 0
    assert token.balanceOf(pool) == 0


def test_reentrant_collateral__call_backs_are_refused_by_the_locks(
    create_market, owner, lp, keeper, chain, settle_book, project
):
    token = owner.deploy(project.MockReentrantToken)
    pool, book, lp_token = create_market(token)
    fund(token, lp, book, 10**24)
    deadline = chain.pending_timestamp + 3_600
    # Calls that work from outside...
    assert book.pending_orders() == 0
    assert pool.rebalance_due() is False
    # ...fail from inside the request's transferFrom (called by the book)...
    token.arm(book.pending_orders.encode_input(), sender=owner)
    book.request_lp_deposit(10**21, 0, lp, deadline, sender=lp)
    assert (token.hook_calls(), token.hook_succeeded()) == (1, False)
    # ...and from inside the pool's payout of the settle fee.
    token.arm(pool.rebalance_due.encode_input(), sender=owner)
    [log] = settled(settle_book(book), pool)

    assert (token.hook_calls(), token.hook_succeeded()) == (2, False)
    assert log.outcome == OUTCOME_FILLED
    assert token.balanceOf(keeper) == 10**17
    assert pool.total_assets() == token.balanceOf(pool) == 10**21


def test_reentrant_collateral__call_back_into_exported_erc20__runs_and_the_settlement_is_the_same(
    create_market, owner, lp, keeper, chain, settle_book, project
):
    """The ERC-20 functions the pool exports from snekmate (`pragma nonreentrancy off`)
    take no lock, and need none: they change only the caller's own balance and
    allowances, and no settlement reads any balance but the pool's own, so a call
    back in the middle of a settlement does what it would have done before or
    after it (README, Security model). Here the payout's call-back approves; the
    settlement is the same as without it."""
    results = []
    for hooked in (False, True):
        token = owner.deploy(project.MockReentrantToken)
        pool, book, lp_token = create_market(token)
        fund(token, lp, book, 10**24)
        # A first call-back (refused by the book's lock) warms the mock's counters, so the
        # second fits in the payout's fixed gas.
        token.arm(book.pending_orders.encode_input(), sender=owner)
        book.request_lp_deposit(10**21, 0, lp, chain.pending_timestamp + 3_600, sender=lp)
        if hooked:
            token.arm(pool.approve.encode_input(owner, 1), sender=owner)

        [log] = settled(settle_book(book), pool)  # the settle fee's payout calls back

        assert (token.hook_calls(), token.hook_succeeded()) == ((2, True) if hooked else (1, False))
        assert token.balanceOf(keeper) >= 10**17 and pool.total_claimable() == 0
        assert pool.allowance(token, owner) == (1 if hooked else 0)
        results.append((log.outcome, log.filled, log.out, log.refunded, lp_token.balanceOf(lp), pool.total_assets()))
    assert results[0] == results[1]


def test_payout_the_collateral_refuses__credited_to_claimable_then_claimed(
    create_market, owner, lp, minter, redeemer, keeper, chain, settle_book, project
):
    """A payout whose transfer fails (here: a token that needs more than the pool's
    fixed payout gas) does not hold up the queue: it is credited to `claimable`."""
    token = owner.deploy(project.MockReentrantToken)
    pool, book, _ = create_market(token, funds=10**24)
    deadline = chain.pending_timestamp + 3_600
    book.request_lp_deposit(10**22, 0, lp, deadline, sender=lp)
    book.request_mint(10**21, 0, minter, deadline, sender=minter)
    settle_book(book)
    book.request_redeem(pool.balanceOf(minter), 0, redeemer, deadline, sender=minter)
    # A 1 KiB hook: reading it alone costs more than the payout's gas.
    token.arm(b"\x01" * 1_024, sender=owner)
    before = {account: token.balanceOf(account) for account in (redeemer, keeper)}

    receipt = settle_book(book)

    [log] = settled(receipt, pool)
    assert log.outcome == OUTCOME_FILLED and log.out > 0
    assert receipt.events.filter(pool.Claimable) == [
        pool.Claimable(account=redeemer, assets=log.out),
        pool.Claimable(account=keeper, assets=log.settle_fee),
    ]
    assert {account: token.balanceOf(account) for account in (redeemer, keeper)} == before
    assert pool.claimable(redeemer) == log.out
    assert pool.total_claimable() == log.out + log.settle_fee
    assert token.balanceOf(pool) >= pool.total_assets() + book.escrowed() + pool.total_claimable()

    tx = pool.claim(sender=redeemer)  # with the caller's gas, the transfer goes through

    assert tx.return_value == log.out
    assert tx.events.filter(pool.Claim) == [pool.Claim(account=redeemer, assets=log.out)]
    assert token.balanceOf(redeemer) == before[redeemer] + log.out
    assert pool.claimable(redeemer) == 0 and pool.total_claimable() == log.settle_fee
    with ape.reverts("pool: nothing to claim"):
        pool.claim(sender=redeemer)


def test_donation__changes_nothing(order_seeded, order_pool, lens, collateral, owner, stranger):
    set_parameters(order_pool, owner, management_fee=0)  # NAV still from one second to the next
    nav, lp_value, assets = order_pool.nav(), lens.lp_value(), order_pool.total_assets()
    collateral.mint(stranger, 10**12, sender=stranger)
    collateral.transfer(order_pool, 10**12, sender=stranger)
    assert (order_pool.nav(), lens.lp_value(), order_pool.total_assets()) == (nav, lp_value, assets)
    assert collateral.balanceOf(order_pool) == assets + 10**12


def test_settle__too_little_gas_for_a_payout__reverts_never_credits_claimable(
    order_seeded, order_pool, book, minter, keeper, owner, feed, collateral, chain, deadline, unchanged
):
    """A settler cannot make a payout fail (and so land in `claimable`) by sending
    too little gas: below what the payout needs the whole settle reverts."""
    order = requested(book.request_redeem(order_pool.balanceOf(minter), 0, minter, deadline, sender=minter), book)
    publish_round(feed, owner, chain, after=order.not_before)
    batch, round_ids = settlement_batch(book, feed, chain.pending_timestamp)
    enough = book.settle.estimate_gas_cost(batch, round_ids, sender=keeper)

    with unchanged("pool: out of gas"):
        book.settle(batch, round_ids, sender=keeper, gas=enough - 10_000)
    cash = collateral.balanceOf(minter)
    [log] = settled(book.settle(batch, round_ids, sender=keeper, gas=enough), order_pool)

    assert collateral.balanceOf(minter) == cash + log.out > 0
    assert order_pool.total_claimable() == 0
