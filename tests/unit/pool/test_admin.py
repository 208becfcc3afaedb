"""The owner's and guardian's switches: pause, parameters within their bounds (the
four order parameters and threshold * L <= 0.5 included), guardian, two-step
ownership, the order-book-only entry points, and construction. Shutdown itself
(queued and settled like an order) is in `tests/unit/orders/test_shutdown.py`."""

import re

import ape
import pytest
from ape.exceptions import ContractLogicError

from inverse.constants import (
    DEFAULT_PARAMETER_DELAY,
    MAX_INTERVAL,
    MAX_KEEPER_BOUNTY_UNITS,
    MAX_MANAGEMENT_FEE,
    MAX_MAX_WAIT,
    MAX_MIN_BACKING,
    MAX_MIN_DELAY,
    MAX_MIN_ORDER_UNITS,
    MAX_PARAMETER_DELAY,
    MAX_SETTLE_FEE_UNITS,
    MAX_THRESHOLD,
    MAX_TRADE_FEE,
    MIN_INTERVAL,
    MIN_MAX_WAIT,
    MIN_MIN_BACKING,
    MIN_MIN_DELAY,
    MIN_PARAMETER_DELAY,
    MIN_THRESHOLD,
    ORDER_PARAMETER_NAMES,
    ORDER_REDEEM,
    OUTCOME_FILLED,
    WAD,
    default_order_parameters,
    parameter_bounds,
)
from inverse.deploy import ZERO_ADDRESS, deploy_pool, leverage_wad
from inverse.model import accrued, fee_of
from tests.conftest import INITIAL_PRICE, price_wad, publish_round, settle_orders

from ..orders.conftest import (
    USDC,
    VALUE_SCALE,
    latest_round_id,
    queue_parameters,
    read_parameters,
    requested,
    set_parameters,
)

DEFAULTS = default_order_parameters(WAD, 6)


def as_tuple(params: dict) -> tuple:
    return tuple(params[name] for name in ORDER_PARAMETER_NAMES)


def deploy_reverts(reason: str):
    """`ape.reverts` for a deployment: match the error itself, as ape's revert check
    looks for a contract at the address that was never created."""
    return pytest.raises(ContractLogicError, match=f"^{re.escape(reason)}$")


@pytest.fixture
def create_reverting(accounts, blueprints, guardian):
    """Deploys a market from a deployer of its own: ape caches contract types by
    address, and a failed deployment's address is reused by the next test's."""

    def create(collateral, oracle, leverage=1, params=None, parameter_delay=DEFAULT_PARAMETER_DELAY):
        return deploy_pool(
            accounts[8],
            collateral=collateral,
            oracle=oracle,
            leverage=leverage_wad(leverage),
            blueprints=blueprints,
            guardian=guardian.address,
            params=params,
            parameter_delay=parameter_delay,
        )

    return create


# ------------------------------------------------------------ pause


@pytest.mark.parametrize("role", ["guardian", "owner"])
def test_pause__by_guardian_or_owner__closes_entries(order_pool, book, request, role):
    account = request.getfixturevalue(role)
    tx = order_pool.pause(sender=account)
    assert order_pool.paused()
    assert book.terms().closed
    assert tx.events.filter(order_pool.Paused) == [order_pool.Paused(account=account)]


def test_pause__by_stranger__reverts(order_pool, stranger, unchanged):
    with unchanged("pool: caller is not the guardian"):
        order_pool.pause(sender=stranger)


def test_pause__twice__reverts(order_pool, guardian, unchanged):
    order_pool.pause(sender=guardian)
    with unchanged("pool: already paused"):
        order_pool.pause(sender=guardian)


def test_unpause__by_owner__reopens_mint_requests(order_seeded, order_pool, book, owner, guardian, minter, deadline):
    order_pool.pause(sender=guardian)
    tx = order_pool.unpause(sender=owner)
    assert not order_pool.paused() and not book.terms().closed
    assert tx.events.filter(order_pool.Unpaused) == [order_pool.Unpaused(account=owner)]
    assert book.request_mint(10 * USDC, 0, minter, deadline, sender=minter).return_value == 3


def test_unpause__by_guardian__reverts(order_pool, guardian, unchanged):
    order_pool.pause(sender=guardian)
    with unchanged("ownable: caller is not the owner"):
        order_pool.unpause(sender=guardian)


def test_unpause__when_not_paused__reverts(order_pool, owner, unchanged):
    with unchanged("pool: not paused"):
        order_pool.unpause(sender=owner)


# ------------------------------------------------------------ shutdown (who may)


def test_shutdown__by_non_owner__reverts_with_ownable_reason(order_pool, guardian, unchanged):
    with unchanged("ownable: caller is not the owner"):
        order_pool.shutdown(sender=guardian)


def test_shutdown__twice__reverts(order_pool, book, owner):
    order_pool.shutdown(sender=owner)
    with ape.reverts("pool: shut down"):
        order_pool.shutdown(sender=owner)
    assert book.terms().closed and not book.terms().is_shutdown


# ------------------------------------------------------------ parameters (queued, applied by a rebalance)

NEW = {
    "interval": MAX_INTERVAL,
    "threshold": MIN_THRESHOLD,
    "mint_fee": MAX_TRADE_FEE,
    "redeem_fee": 0,
    "management_fee": MAX_MANAGEMENT_FEE,
    "keeper_bounty": MAX_KEEPER_BOUNTY_UNITS * USDC,
    "min_backing": MIN_MIN_BACKING,
    "settle_fee": MAX_SETTLE_FEE_UNITS * USDC,
    "min_delay": MAX_MIN_DELAY,
    "max_wait": MIN_MAX_WAIT,
    "min_order": 0,
}


def rebalance_at(pool, feed, owner, chain, when: int):
    """Publishes a round stamped `when` (the latest answer) and rebalances after it.
    The stamp is set, not the block's time: a loaded machine mines seconds late,
    which moved a round meant for a second before `ready_at` onto it."""
    chain.mine(timestamp=max(when, chain.pending_timestamp))
    feed.push_round(feed.latestRoundData()[1], when, when, sender=owner)
    return pool.rebalance(sender=owner)


def test_queue_parameters__applied_by_the_first_rebalance_after_the_delay__not_before(
    order_seeded, order_pool, book, feed, owner, chain
):
    tx = order_pool.queue_parameters(as_tuple(NEW), sender=owner)
    ready_at = tx.timestamp + DEFAULT_PARAMETER_DELAY
    assert order_pool.parameter_delay() == DEFAULT_PARAMETER_DELAY
    assert tx.events.filter(order_pool.ParametersQueued) == [order_pool.ParametersQueued(**NEW, ready_at=ready_at)]
    assert (order_pool.parameters_ready_at(), read_parameters(order_pool)) == (ready_at, DEFAULTS)
    assert order_pool.queued_parameters() == as_tuple(NEW)

    # A rebalance a second early (due on the daily interval) keeps the parameters in force.
    tx = rebalance_at(order_pool, feed, owner, chain, ready_at - 1)
    assert not tx.events.filter(order_pool.ParametersUpdated)
    assert (order_pool.parameters_ready_at(), read_parameters(order_pool)) == (ready_at, DEFAULTS)
    assert book.terms().mint_fee == DEFAULTS["mint_fee"]

    tx = rebalance_at(order_pool, feed, owner, chain, tx.timestamp + DEFAULTS["interval"])
    assert tx.events.filter(order_pool.ParametersUpdated) == [order_pool.ParametersUpdated(**NEW)]
    assert [log.bounty for log in tx.events.filter(order_pool.Rebalance)] == [DEFAULTS["keeper_bounty"]]
    assert (order_pool.parameters_ready_at(), read_parameters(order_pool)) == (0, NEW)
    terms = book.terms()
    assert (terms.mint_fee, terms.redeem_fee, terms.settle_fee, terms.min_delay, terms.max_wait, terms.min_order) == (
        MAX_TRADE_FEE,
        0,
        MAX_SETTLE_FEE_UNITS * USDC,
        MAX_MIN_DELAY,
        MIN_MAX_WAIT,
        0,
    )
    assert (book.settle_fee(), book.min_delay(), book.max_wait(), book.min_order()) == (
        MAX_SETTLE_FEE_UNITS * USDC,
        MAX_MIN_DELAY,
        MIN_MAX_WAIT,
        0,
    )


def test_queue_parameters__again__replaces_the_change_and_restarts_the_wait(order_pool, feed, owner, chain):
    first = order_pool.queue_parameters(as_tuple(NEW), sender=owner)
    chain.mine(timestamp=first.timestamp + DEFAULT_PARAMETER_DELAY - 3_600)
    second = DEFAULTS | {"mint_fee": 0}
    tx = order_pool.queue_parameters(as_tuple(second), sender=owner)
    assert order_pool.parameters_ready_at() == tx.timestamp + DEFAULT_PARAMETER_DELAY

    early = rebalance_at(order_pool, feed, owner, chain, tx.timestamp + DEFAULT_PARAMETER_DELAY - 600)
    assert feed.latestRoundData()[3] < order_pool.parameters_ready_at()  # the first's time is past
    assert read_parameters(order_pool) == DEFAULTS
    rebalance_at(order_pool, feed, owner, chain, early.timestamp + DEFAULTS["interval"])
    assert read_parameters(order_pool) == second


def test_cancel_parameters__drops_the_change(order_pool, feed, owner, guardian, chain, unchanged):
    ready_at = order_pool.queue_parameters(as_tuple(NEW), sender=owner).timestamp + DEFAULT_PARAMETER_DELAY
    with unchanged("ownable: caller is not the owner"):
        order_pool.cancel_parameters(sender=guardian)

    tx = order_pool.cancel_parameters(sender=owner)

    assert tx.events.filter(order_pool.ParametersCancelled) == [order_pool.ParametersCancelled(ready_at=ready_at)]
    assert order_pool.parameters_ready_at() == 0
    tx = rebalance_at(order_pool, feed, owner, chain, ready_at)
    assert not tx.events.filter(order_pool.ParametersUpdated)
    assert read_parameters(order_pool) == DEFAULTS
    with unchanged("pool: no parameters queued"):
        order_pool.cancel_parameters(sender=owner)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"interval": MIN_INTERVAL - 1}, "pool: interval out of bounds"),
        ({"interval": MAX_INTERVAL + 1}, "pool: interval out of bounds"),
        ({"threshold": MIN_THRESHOLD - 1}, "pool: threshold out of bounds"),
        ({"threshold": MAX_THRESHOLD + 1}, "pool: threshold out of bounds"),
        ({"mint_fee": MAX_TRADE_FEE + 1}, "pool: mint fee out of bounds"),
        ({"redeem_fee": MAX_TRADE_FEE + 1}, "pool: redeem fee out of bounds"),
        ({"management_fee": MAX_MANAGEMENT_FEE + 1}, "pool: management fee above 10%"),
        ({"keeper_bounty": MAX_KEEPER_BOUNTY_UNITS * USDC + 1}, "pool: keeper bounty too high"),
        ({"min_backing": MIN_MIN_BACKING - 1}, "pool: min backing out of bounds"),
        ({"min_backing": MAX_MIN_BACKING + 1}, "pool: min backing out of bounds"),
        ({"settle_fee": MAX_SETTLE_FEE_UNITS * USDC + 1}, "pool: settle fee out of bounds"),
        ({"min_delay": MIN_MIN_DELAY - 1}, "pool: min delay out of bounds"),
        ({"min_delay": MAX_MIN_DELAY + 1}, "pool: min delay out of bounds"),
        ({"max_wait": MIN_MAX_WAIT - 1}, "pool: max wait out of bounds"),
        ({"max_wait": MAX_MAX_WAIT + 1}, "pool: max wait out of bounds"),
        ({"min_order": MAX_MIN_ORDER_UNITS * USDC + 1}, "pool: min order out of bounds"),
    ],
)
def test_queue_parameters__out_of_bounds__reverts(order_pool, owner, unchanged, change, reason):
    with unchanged(reason):
        queue_parameters(order_pool, owner, **change)


def test_queue_parameters__keeper_bounty__at_most_20_units():
    assert MAX_KEEPER_BOUNTY_UNITS == 20  # SPEC 7; the bound itself is checked above


@pytest.mark.parametrize("leverage, highest", [(3, WAD // 6), (2, WAD // 4), ("0.5", WAD // 2)])
def test_queue_parameters__threshold_times_leverage_above_half__reverts(
    create_order_pool, collateral, oracle, owner, leverage, highest
):
    pool = create_order_pool(collateral, oracle, leverage)
    queue_parameters(pool, owner, threshold=highest)  # exactly 0.5 / L (or the 50% cap)
    assert pool.queued_parameters().threshold == highest
    with ape.reverts("pool: threshold out of bounds"):
        queue_parameters(pool, owner, threshold=highest + 1)
    assert pool.queued_parameters().threshold == highest


@pytest.mark.parametrize("paused", [False, True])
def test_set_parameters__every_bound__survives_the_packed_storage(
    create_collateral, create_order_pool, oracle, feed, owner, guardian, paused
):
    # 18 decimals: the largest bounty, settle fee and min order the bounds allow.
    pool = create_order_pool(create_collateral(18), oracle, 1)
    if paused:
        pool.pause(sender=guardian)
    lowest, highest = parameter_bounds(WAD, 18)
    for params in (highest, lowest, highest):
        tx = set_parameters(pool, owner, **params)
        assert read_parameters(pool) == params
        assert (pool.paused(), pool.shutdown_requested(), pool.is_shutdown()) == (paused, False, False)
        # The neighbours in the packed words: the rebalance's time and round, the ready time cleared.
        [log] = tx.events.filter(pool.Rebalance)
        assert (pool.last_rebalance(), pool.parameters_ready_at()) == (tx.timestamp, 0)
        assert (pool.reference_price(), pool.reference_nav(), pool.total_assets()) == (log.price, WAD, 0)
        assert pool.fee_time() == feed.latestRoundData()[3]


def test_queue_parameters__by_non_owner__reverts(order_pool, guardian, unchanged):
    with unchanged("ownable: caller is not the owner"):
        queue_parameters(order_pool, guardian)


def test_queue_parameters__after_shutdown_request__reverts(order_pool, owner):
    order_pool.shutdown(sender=owner)
    with ape.reverts("pool: shut down"):
        queue_parameters(order_pool, owner, mint_fee=0)
    assert order_pool.parameters_ready_at() == 0


def test_set_parameters__pending_order__keeps_the_fees_it_was_requested_with(
    order_seeded, order_pool, book, feed, owner, minter, keeper, chain
):
    ready_at = queue_parameters(order_pool, owner, mint_fee=MAX_TRADE_FEE).timestamp + DEFAULT_PARAMETER_DELAY
    publish_round(feed, owner, chain, after=ready_at)
    order = requested(book.request_mint(1_000 * USDC, 0, minter, ready_at + 3_600, sender=minter), book)
    # The fee change applies before the order's round is out ...
    order_pool.rebalance(sender=owner)
    assert read_parameters(order_pool)["mint_fee"] == MAX_TRADE_FEE
    # ... and the order still pays the fee it was requested with.
    publish_round(feed, owner, chain, after=order.not_before)
    [log] = book.settle([order.as_struct()], [latest_round_id(feed)], sender=keeper).events.filter(order_pool.Mint)
    assert log.fee == 1_000 * USDC // 1_000  # 0.1%, not 1%


@pytest.mark.parametrize(
    "change",
    [
        {"management_fee": MAX_MANAGEMENT_FEE},
        {"keeper_bounty": MAX_KEEPER_BOUNTY_UNITS * USDC, "interval": MIN_INTERVAL, "threshold": MIN_THRESHOLD},
        {"mint_fee": MAX_TRADE_FEE, "redeem_fee": MAX_TRADE_FEE},
    ],
    ids=["management_fee", "bounty", "trade_fees"],
)
def test_queue_parameters__a_change_that_takes_value__leaves_time_to_exit_first(
    lens, order_seeded, order_pool, book, order_lp_token, feed, owner, minter, lp, keeper, chain, change
):
    """Each owner move an economic review found could take value (a retroactive
    management fee, a large bounty on a short interval, higher trade fees just
    before others' orders): holders and LPs who see it queued exit on the terms
    in force, well before it applies."""
    ready_at = queue_parameters(order_pool, owner, **change).timestamp + DEFAULT_PARAMETER_DELAY
    shares, lp_shares = order_pool.balanceOf(minter), order_lp_token.balanceOf(lp)
    deadline = chain.pending_timestamp + 3_600
    book.request_redeem(shares, 0, minter, deadline, sender=minter)
    book.request_lp_withdraw(lp_shares // 2, 0, lp, deadline, sender=lp)
    preview = lens.preview_redeem(shares)

    publish_round(feed, owner, chain)  # the next round, minutes later
    receipt = settle_orders(book, feed, keeper, chain)

    assert receipt.timestamp < ready_at - DEFAULT_PARAMETER_DELAY + 3_600
    [redeem, withdraw] = receipt.events.filter(order_pool.OrderSettled)
    assert redeem.outcome == withdraw.outcome == OUTCOME_FILLED
    assert redeem.out >= preview - preview // 10**6  # the fees in force; minutes of the 2% management fee
    [log] = receipt.events.filter(order_pool.Redeem)
    assert log.fee == fee_of(log.shares * log.nav // VALUE_SCALE, DEFAULTS["redeem_fee"])
    assert read_parameters(order_pool) == DEFAULTS  # nothing applied yet
    assert order_pool.parameters_ready_at() == ready_at


# ------------------------------------------------------------ guardian and ownership


def test_set_guardian__by_owner__moves_the_pause_key(order_pool, owner, guardian, stranger):
    tx = order_pool.set_guardian(stranger, sender=owner)
    assert order_pool.guardian() == stranger
    assert tx.events.filter(order_pool.GuardianUpdated) == [
        order_pool.GuardianUpdated(previous_guardian=guardian, new_guardian=stranger)
    ]
    with ape.reverts("pool: caller is not the guardian"):
        order_pool.pause(sender=guardian)
    order_pool.pause(sender=stranger)


def test_set_guardian__zero_address__only_owner_can_pause(order_pool, owner, guardian):
    order_pool.set_guardian(ZERO_ADDRESS, sender=owner)
    with ape.reverts("pool: caller is not the guardian"):
        order_pool.pause(sender=guardian)
    order_pool.pause(sender=owner)
    assert order_pool.paused()


def test_set_guardian__by_non_owner__reverts(order_pool, guardian, stranger, unchanged):
    with unchanged("ownable: caller is not the owner"):
        order_pool.set_guardian(stranger, sender=guardian)


def test_ownership__two_step_transfer(order_pool, owner, stranger):
    tx = order_pool.transfer_ownership(stranger, sender=owner)
    assert order_pool.owner() == owner
    assert order_pool.pending_owner() == stranger
    assert tx.events.filter(order_pool.OwnershipTransferStarted) == [
        order_pool.OwnershipTransferStarted(previous_owner=owner, new_owner=stranger)
    ]
    tx = order_pool.accept_ownership(sender=stranger)
    assert order_pool.owner() == stranger
    assert tx.events.filter(order_pool.OwnershipTransferred) == [
        order_pool.OwnershipTransferred(previous_owner=owner, new_owner=stranger)
    ]
    with ape.reverts("ownable: caller is not the owner"):
        order_pool.shutdown(sender=owner)


def test_ownership__accept_by_other__reverts(order_pool, owner, stranger, guardian):
    order_pool.transfer_ownership(stranger, sender=owner)
    with ape.reverts("ownable_2step: caller is not the new owner"):
        order_pool.accept_ownership(sender=guardian)


def test_ownership__cannot_be_renounced(order_pool):
    assert "renounce_ownership" not in [abi.name for abi in order_pool.contract_type.mutable_methods]


# ------------------------------------------------------------ order-book-only entry points


def test_take_and_execute__not_the_order_book__revert(order_seeded, order_pool, minter, stranger, unchanged):
    with unchanged("pool: caller is not its book"):
        order_pool.take(ORDER_REDEEM, minter, 10**18, sender=stranger)
    with unchanged("pool: caller is not its book"):
        order_pool.execute([], [], stranger, sender=stranger)


# ------------------------------------------------------------ construction


@pytest.mark.parametrize("leverage", ["0.49", "5.01"])
def test_constructor__leverage_out_of_bounds__reverts(create_reverting, collateral, oracle, leverage):
    with deploy_reverts("pool: leverage out of bounds"):
        create_reverting(collateral, oracle, leverage)


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"mint_fee": MAX_TRADE_FEE + 1}, "pool: mint fee out of bounds"),
        ({"min_delay": 0}, "pool: min delay out of bounds"),
    ],
)
def test_constructor__bad_parameter__reverts(create_reverting, collateral, oracle, change, reason):
    with deploy_reverts(reason):
        create_reverting(collateral, oracle, 1, DEFAULTS | change)


@pytest.mark.parametrize("delay", [MIN_PARAMETER_DELAY - 1, MAX_PARAMETER_DELAY + 1])
def test_constructor__parameter_delay_out_of_bounds__reverts(create_reverting, collateral, oracle, delay):
    with deploy_reverts("pool: parameter delay out of bounds"):
        create_reverting(collateral, oracle, 1, DEFAULTS, parameter_delay=delay)


@pytest.mark.parametrize("which, reason", [("collateral", "pool: zero collateral"), ("oracle", "pool: zero oracle")])
def test_constructor__zero_address__reverts(create_reverting, collateral, oracle, which, reason):
    args = {"collateral": collateral, "oracle": oracle} | {which: ZERO_ADDRESS}
    with deploy_reverts(reason):
        create_reverting(args["collateral"], args["oracle"], 1, DEFAULTS)


def test_constructor__collateral_above_18_decimals__reverts(create_reverting, create_collateral, oracle):
    with deploy_reverts("pool: collateral decimals above 18"):
        create_reverting(create_collateral(24), oracle, 1, DEFAULTS)


def test_constructor__dead_oracle__reverts_with_its_reason(create_reverting, collateral, oracle, feed, owner):
    feed.set_answer(0, sender=owner, gas=200_000)
    with deploy_reverts("oracle: non-positive price"):
        create_reverting(collateral, oracle, 1)


def test_constructor__sets_the_first_reference_and_wires_the_book(
    order_pool, book, order_lp_token, collateral, oracle, feed, guardian, owner
):
    assert order_pool.reference_price() == price_wad(INITIAL_PRICE)
    assert order_pool.reference_nav() == WAD
    assert order_pool.fee_time() == feed.latestRoundData()[3]  # the management fee runs from that round
    assert order_pool.leverage() == WAD
    assert (order_pool.collateral(), order_pool.oracle()) == (collateral.address, oracle.address)
    assert (order_pool.owner(), order_pool.guardian()) == (owner.address, guardian.address)
    assert order_pool.order_book() == book.address
    assert (book.pool(), book.collateral(), book.oracle(), book.lp_token()) == (
        order_pool.address,
        collateral.address,
        oracle.address,
        order_lp_token.address,
    )
    assert order_lp_token.pool() == order_pool.address
    assert (order_pool.name(), order_pool.symbol(), order_pool.decimals()) == ("ETH -1x Inverse", "iETH1", 18)
    assert (order_lp_token.name(), order_lp_token.symbol(), order_lp_token.decimals()) == (
        "ETH -1x Inverse LP",
        "lETH1",
        18,
    )
    assert read_parameters(order_pool) == DEFAULTS
    assert order_pool.total_assets() == order_pool.totalSupply() == order_pool.total_claimable() == 0
    assert not order_pool.paused() and not order_pool.shutdown_requested() and not order_pool.is_shutdown()
    assert (book.next_order(), book.pending_orders(), book.escrowed(), book.head()) == (1, 0, 0, (False, 0, 0))


def test_queue_parameters__higher_management_fee__charged_only_from_the_round_that_applies_it(
    order_seeded, order_pool, feed, owner, chain
):
    """A raised management fee charges the new rate from the applying rebalance's
    round on, never for the time since the last rebalance (SPEC 2: holders pay for
    exactly the seconds they hold at the rate they saw)."""
    start, t0 = order_pool.reference_nav(), order_pool.fee_time()
    ready_at = (
        queue_parameters(order_pool, owner, management_fee=MAX_MANAGEMENT_FEE).timestamp + DEFAULT_PARAMETER_DELAY
    )
    publish_round(feed, owner, chain, after=ready_at)  # the price has not moved
    t1 = feed.latestRoundData()[3]

    order_pool.rebalance(sender=owner)

    # Three days at 2%, booked at the round; then 10% from that round on.
    booked = accrued(start, DEFAULTS["management_fee"], t1 - t0)
    assert (order_pool.reference_nav(), order_pool.fee_time()) == (booked, t1)
    publish_round(feed, owner, chain, after=t1 + 86_400)
    t2 = feed.latestRoundData()[3]
    chain.mine(timestamp=t2)
    assert order_pool.nav() == accrued(booked, MAX_MANAGEMENT_FEE, t2 - t1)


def test_queue_parameters__rebalance_on_a_round_from_before_ready_at__does_not_apply_them(
    order_seeded, order_pool, book, order_lp_token, feed, owner, lp, keeper, chain
):
    """Found by review: a rebalance just after `ready_at` on a round published before
    it would have applied a stricter backing rule to an LP withdrawal requested
    before `ready_at` (it filled partly) and charged the new fee from that round."""
    ready_at = (
        queue_parameters(order_pool, owner, min_backing=MAX_MIN_BACKING, management_fee=MAX_MANAGEMENT_FEE).timestamp
        + DEFAULT_PARAMETER_DELAY
    )
    publish_round(feed, owner, chain, after=ready_at - 1_800)
    chain.mine(timestamp=ready_at - 600)
    shares = order_lp_token.balanceOf(lp) * 8 // 10
    order = requested(book.request_lp_withdraw(shares, 0, lp, ready_at + 3_600, sender=lp), book)
    chain.mine(timestamp=ready_at)

    first = order_pool.rebalance(sender=keeper)  # due on the interval, at the round from before ready_at

    assert not first.events.filter(order_pool.ParametersUpdated)
    assert read_parameters(order_pool) == DEFAULTS and order_pool.parameters_ready_at() == ready_at
    publish_round(feed, owner, chain, after=order.not_before)
    receipt = book.settle([order.as_struct()], [latest_round_id(feed)], sender=keeper)
    [log] = receipt.events.filter(order_pool.OrderSettled)
    assert (log.outcome, log.filled) == (OUTCOME_FILLED, shares)  # on the terms it was requested under
    # The next rebalance, at a round from ready_at on, applies the change.
    # Its interval counts from the first rebalance's block, which a slow machine puts after ready_at.
    rebalance_at(order_pool, feed, owner, chain, first.timestamp + DEFAULTS["interval"])
    assert read_parameters(order_pool)["min_backing"] == MAX_MIN_BACKING


def test_status__queued_change__says_what_changes_and_from_when(order_pool, book, collateral, owner):
    from inverse.status import fmt_time, format_status, read_status

    assert "queued change" not in format_status("m", read_status(order_pool, collateral, book))
    ready_at = queue_parameters(order_pool, owner, mint_fee=0).timestamp + DEFAULT_PARAMETER_DELAY

    status = read_status(order_pool, collateral, book)

    assert status.queued_changes == {"mint_fee": (DEFAULTS["mint_fee"], 0)}
    assert f"mint_fee {DEFAULTS['mint_fee']} -> 0; applies at the first rebalance from {fmt_time(ready_at)}" in (
        format_status("m", status)
    )
