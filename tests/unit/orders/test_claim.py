"""A payout the collateral refuses (a blocklisted receiver, as USDC does) never holds up
the queue: it is credited to `claimable`, and `claim()` pays it once the receiver can
take it (SPEC 3, Liveness)."""

import ape
import pytest

from inverse.constants import OUTCOME_FILLED, OUTCOME_REFUNDED
from inverse.deploy import order_book_of
from tests.conftest import fund, publish_round

from .conftest import USDC, later, requested, settled

SETTLE_FEE = USDC // 10


@pytest.fixture(scope="module")
def collateral(owner, project):
    """USDC-like collateral that can block an account."""
    return owner.deploy(project.MockBlocklistCollateral, "Mock USD Coin", "USDC", 6)


@pytest.fixture(scope="module")
def order_pool(create_order_pool, collateral, oracle):
    return create_order_pool(collateral, oracle, 1)


@pytest.fixture(scope="module")
def book(order_pool):
    return order_book_of(order_pool)


@pytest.fixture
def order_seeded(order_pool, book, collateral, lp, minter, redeemer, deadline, settle):
    for account in (lp, minter, redeemer):
        fund(collateral, account, book, 1_000_000 * USDC)
    book.request_lp_deposit(100_000 * USDC, 0, lp, deadline, sender=lp)
    book.request_mint(10_000 * USDC, 0, minter, deadline, sender=minter)
    settle()
    return order_pool


def solvent(pool, book, collateral) -> bool:
    return collateral.balanceOf(pool) >= pool.total_assets() + book.escrowed() + pool.total_claimable()


def test_settle_redeem__receiver_blocked__fills_and_credits_claimable_then_claim_pays(
    order_seeded, order_pool, book, minter, redeemer, keeper, collateral, deadline, settle
):
    collateral.set_blocked(redeemer, True, sender=redeemer)
    shares = order_pool.balanceOf(minter) // 2
    requested(book.request_redeem(shares, 0, redeemer, deadline, sender=minter), book)
    cash, keeper_cash = collateral.balanceOf(redeemer), collateral.balanceOf(keeper)

    receipt = settle()

    [log] = settled(receipt, order_pool)
    assert log.outcome == OUTCOME_FILLED and log.out > 0
    assert receipt.events.filter(order_pool.Claimable) == [order_pool.Claimable(account=redeemer, assets=log.out)]
    assert order_pool.claimable(redeemer) == order_pool.total_claimable() == log.out
    assert collateral.balanceOf(redeemer) == cash
    assert collateral.balanceOf(keeper) == keeper_cash + SETTLE_FEE  # the settler is paid all the same
    assert solvent(order_pool, book, collateral)

    with ape.reverts("mock: account blocked"):  # still blocked: nothing moves
        order_pool.claim(sender=redeemer)
    assert order_pool.claimable(redeemer) == log.out

    collateral.set_blocked(redeemer, False, sender=redeemer)
    tx = order_pool.claim(sender=redeemer)

    assert tx.return_value == log.out
    assert tx.events.filter(order_pool.Claim) == [order_pool.Claim(account=redeemer, assets=log.out)]
    assert collateral.balanceOf(redeemer) == cash + log.out
    assert order_pool.claimable(redeemer) == order_pool.total_claimable() == 0
    assert solvent(order_pool, book, collateral)
    with ape.reverts("pool: nothing to claim"):
        order_pool.claim(sender=redeemer)


def test_settle_mint__refund_to_blocked_requester__credited_and_the_queue_goes_on(
    order_seeded, order_pool, book, minter, redeemer, keeper, collateral, deadline, settle
):
    # A mint refunded for its slippage bound, its requester blocked since the request,
    # and an order behind it: the batch settles both.
    assets = 1_000 * USDC
    refused = requested(book.request_mint(assets, 2**100, minter, deadline, sender=minter), book)
    behind = requested(book.request_mint(assets, 0, redeemer, deadline, sender=redeemer), book)
    collateral.set_blocked(minter, True, sender=minter)

    logs = settled(settle(), order_pool)

    outcomes = [(log.order_id, log.outcome) for log in logs]
    assert outcomes == [(refused.id, OUTCOME_REFUNDED), (behind.id, OUTCOME_FILLED)]
    assert order_pool.claimable(minter) == assets
    assert book.pending_orders() == 0
    assert solvent(order_pool, book, collateral)


def test_settle__settler_blocked__fees_credited_to_its_claimable(
    order_seeded, order_pool, book, minter, keeper, collateral, deadline, settle
):
    requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    requested(book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter), book)
    collateral.set_blocked(keeper, True, sender=keeper)

    logs = settled(settle(), order_pool)

    assert [log.outcome for log in logs] == [OUTCOME_FILLED, OUTCOME_FILLED]
    assert order_pool.claimable(keeper) == 2 * SETTLE_FEE
    assert solvent(order_pool, book, collateral)


def test_claim__nothing_owed__reverts(order_pool, stranger):
    with ape.reverts("pool: nothing to claim"):
        order_pool.claim(sender=stranger)


def test_upkeep__receiver_blocked__settles_and_sends_the_fees_with_a_later_settlement(
    order_seeded, order_pool, book, upkeep, minter, keeper, owner, feed, collateral, chain
):
    """The upkeep's fee forwarding never holds up Automation's settlements either."""
    receiver = upkeep.receiver()
    cash = collateral.balanceOf(receiver)
    collateral.set_blocked(receiver, True, sender=keeper)

    def settle_one():
        order = requested(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter), book)
        upkeep.record(order.as_struct(), sender=keeper)
        publish_round(feed, owner, chain, after=order.not_before)
        needed, data = upkeep.checkUpkeep(b"")
        assert needed
        return settled(upkeep.performUpkeep(data, sender=keeper), order_pool)

    assert [log.outcome for log in settle_one()] == [OUTCOME_FILLED]
    assert collateral.balanceOf(upkeep) == SETTLE_FEE and collateral.balanceOf(receiver) == cash
    collateral.set_blocked(receiver, False, sender=keeper)
    assert [log.outcome for log in settle_one()] == [OUTCOME_FILLED]
    assert collateral.balanceOf(upkeep) == 0 and collateral.balanceOf(receiver) == cash + 2 * SETTLE_FEE
