"""Settlement on a pull market (SPEC 3b): an order's price is the first Pyth price
published at or after its T (a slot time), proven from the update whoever brings it;
void when that price is invalid or came after the expiry, and (the fallback) when no
price could be had by the expiry plus the grace. One update settles a slot's orders."""

import re

import ape
import pytest
from ape.exceptions import ContractLogicError

from inverse.constants import (
    OUTCOME_FILLED,
    OUTCOME_VOID,
    PULL_FALLBACK_GRACE,
    PULL_SLOT,
    WAD,
)
from inverse.deploy import deploy_upkeep, prove_recent_price
from inverse.orders import order_from_log
from inverse.pull import slot_of

from .conftest import BTC_USD, USDC, mine_past, settle_pull, signed, slot_start

SETTLE_FEE = USDC // 10


def custom_error(selector: str):
    return ape.reverts(re.compile(f"^(custom error )?0x{selector}$"))


def request_mint(book, account, chain, assets=1_000 * USDC):
    receipt = book.request_mint(assets, 0, account, chain.pending_timestamp + 600, sender=account)
    return order_from_log(receipt.events.filter(book.OrderRequested)[0])


def settled(receipt, pool):
    return list(receipt.events.filter(pool.OrderSettled))


def test_request__t_is_the_slot_after_min_delay__and_records_no_phase(pull_pool, pull_book, pull_funded, minter, chain):
    assert pull_book.pull() and pull_book.min_delay() == 5 and pull_book.current_phase() == 0
    order = request_mint(pull_book, minter, chain)
    assert order.not_before == slot_of(order.requested_at + 5)
    assert order.not_before % PULL_SLOT == 0 and order.not_before >= order.requested_at + 5
    assert order.phase == 0


def test_settle__fills_at_the_first_price_at_or_after_t__whoever_and_whenever(
    seeded, pull_book, minter, keeper, stranger, prices, chain
):
    order = request_mint(pull_book, minter, chain)
    prices.set(1_900 * 10**8, order.not_before - 1)  # published before T: does not price it
    prices.set(1_980 * 10**8, order.not_before)
    prices.set(2_100 * 10**8, order.not_before + 1)  # the second price after T: neither
    mine_past(order.not_before + 30)
    snapshot = chain.snapshot()
    [now] = settled(settle_pull(pull_book, prices, keeper), seeded)
    chain.restore(snapshot)
    mine_past(order.not_before + 86_400 - 100)  # a day later, by someone else, from the history
    [later] = settled(settle_pull(pull_book, prices, stranger), seeded)
    assert (now.outcome, now.price, now.round_id) == (OUTCOME_FILLED, 1_980 * WAD, order.not_before)
    assert (now.price, now.nav, now.filled, now.out) == (later.price, later.nav, later.filled, later.out)


def test_settle__one_update_settles_every_order_of_its_slot(seeded, pull_book, minter, keeper, prices, chain):
    orders = [request_mint(pull_book, minter, chain, 100 * USDC) for _ in range(3)]
    slots = {o.not_before for o in orders}
    mine_past(max(slots))
    receipt = settle_pull(pull_book, prices, keeper)
    assert len(settled(receipt, seeded)) == 3
    assert len(receipt.events.filter(ape.project.PythOracle.at(pull_book.oracle()).PriceProven)) == len(slots)


def settle_with(book, settler, order, data, value=1):
    """The book's settle for one order with the update `data` for its slot."""
    return book.settle([order.as_struct()], [0], [(order.not_before, data)], value=value, sender=settler)


@pytest.mark.parametrize(
    "which",
    ["second after T", "before T", "another feed", "tampered", "the request's own second"],
)
def test_settle__a_settler_cannot_choose_the_price__other_updates_refused(
    seeded, pull_book, minter, keeper, chain, which
):
    order = request_mint(pull_book, minter, chain)
    t = order.not_before
    mine_past(t + 10)
    data = {
        "second after T": lambda: signed(t + 1, 2_100 * 10**8, prev=t),
        "before T": lambda: signed(t - 1, 2_100 * 10**8),
        "another feed": lambda: signed(t, 2_100 * 10**8, feed=BTC_USD),
        "tampered": lambda: signed(t, 2_000 * 10**8)[:63] + b"\x01" + signed(t, 2_000 * 10**8)[64:],
        "the request's own second": lambda: signed(order.requested_at, 2_100 * 10**8),
    }[which]()
    with ape.reverts():
        settle_with(pull_book, keeper, order, data)
    assert pull_book.pending_orders() == 1


def test_settle__a_price_published_exactly_at_t__fills(seeded, pull_book, minter, keeper, chain):
    order = request_mint(pull_book, minter, chain)
    mine_past(order.not_before)
    [log] = settled(settle_with(pull_book, keeper, order, signed(order.not_before, 1_990 * 10**8)), seeded)
    assert (log.outcome, log.price, log.round_id) == (OUTCOME_FILLED, 1_990 * WAD, order.not_before)


@pytest.mark.parametrize("conf, outcome", [(20 * 10**8, OUTCOME_FILLED), (20 * 10**8 + 1, OUTCOME_VOID)])
def test_settle__confidence_at_the_bound_fills__wider_is_void_and_refunded_in_full(
    seeded, pull_book, minter, keeper, collateral, chain, conf, outcome
):
    cash = collateral.balanceOf(minter)
    order = request_mint(pull_book, minter, chain)
    mine_past(order.not_before)
    [log] = settled(settle_with(pull_book, keeper, order, signed(order.not_before, 2_000 * 10**8, conf=conf)), seeded)
    assert log.outcome == outcome
    if outcome == OUTCOME_VOID:
        assert collateral.balanceOf(minter) == cash  # the settle fee included
        assert log.settle_fee == 0


def test_settle__a_pull_outage_longer_than_max_wait__void_and_refunded(
    seeded, pull_book, minter, keeper, collateral, chain
):
    cash = collateral.balanceOf(minter)
    order = request_mint(pull_book, minter, chain)
    late = order.expires_at + 1
    mine_past(late)
    update = signed(late, 1_500 * 10**8, prev=order.not_before - 1)  # nothing published between T and it
    [log] = settled(settle_with(pull_book, keeper, order, update), seeded)
    assert (log.outcome, log.price) == (OUTCOME_VOID, 0)
    assert collateral.balanceOf(minter) == cash


def test_settle__no_price_to_be_had__void_only_after_the_grace(
    seeded, pull_book, minter, keeper, collateral, chain, frozen_clock
):
    """A second before the grace ends the order still waits; from its end it is void.
    The clock is held still: the refused call is made in that very second."""
    cash = collateral.balanceOf(minter)
    order = request_mint(pull_book, minter, chain)
    mine_past(order.expires_at + PULL_FALLBACK_GRACE - 1)
    with ape.reverts("orders: order not due"):
        pull_book.settle([order.as_struct()], [0], sender=keeper)
    mine_past(order.expires_at + PULL_FALLBACK_GRACE)
    [log] = settled(pull_book.settle([order.as_struct()], [0], sender=keeper), seeded)
    assert log.outcome == OUTCOME_VOID
    assert collateral.balanceOf(minter) == cash


def test_fallback__hoping_for_it_gains_a_requester_nothing_when_a_keeper_settles_in_the_first_block(
    seeded, pull_book, pull_oracle, minter, owner, keeper, prices, chain
):
    """A requester who sees the price move against the position after T would rather
    have the fallback's refund; it comes only if nobody settles for an hour after the
    expiry. A keeper settling in the first block after T fills the order at its price,
    and the move after T is the holder's."""
    order = request_mint(pull_book, minter, chain, 10_000 * USDC)
    prices.set(2_200 * 10**8, order.not_before + 1)  # ETH +10% just after T: a -1x holder loses
    mine_past(order.not_before)
    [log] = settled(settle_pull(pull_book, prices, keeper), seeded)
    assert (log.outcome, log.price) == (OUTCOME_FILLED, 2_000 * WAD)
    mine_past(order.not_before + 20)
    prove_recent_price(owner, pull_oracle, prices.source)
    value = seeded.balanceOf(minter) * seeded.nav() // 10**30
    assert 8_900 * USDC < value < 9_000 * USDC  # the requester bears the move: about -10%, less fees
    mine_past(order.expires_at + PULL_FALLBACK_GRACE)
    assert pull_book.pending_orders() == 0  # nothing left for the fallback to refund


def test_settle__value_without_updates__refused(seeded, pull_book, minter, keeper, chain):
    order = request_mint(pull_book, minter, chain)
    mine_past(order.not_before)
    with ape.reverts("orders: no update to pay for"):
        pull_book.settle([order.as_struct()], [0], value=1, sender=keeper)


def test_settle__fee_above_pythd_fee__refunded_to_the_settler(seeded, pull_book, minter, keeper, chain):
    order = request_mint(pull_book, minter, chain)
    mine_past(order.not_before)
    before = keeper.balance
    receipt = settle_with(pull_book, keeper, order, signed(order.not_before, 2_000 * 10**8), value=10**15)
    assert keeper.balance == before - receipt.total_fees_paid - 1  # Pyth's 1 wei; the rest back


def test_settle__updates_on_a_push_market__refused(order_pool, book, keeper, chain):
    with ape.reverts("orders: not a pull market"):
        book.settle([], [], [(5, signed(5, 1))], value=1, sender=keeper)


def test_min_delay__down_to_one_second_on_a_pull_market_only(pull_pool, order_pool, owner):
    from inverse.status import read_parameters

    params = read_parameters(pull_pool) | {"min_delay": 1}
    pull_pool.queue_parameters(tuple(params.values()), sender=owner)
    with ape.reverts("pool: min delay out of bounds"):
        order_pool.queue_parameters(tuple((read_parameters(order_pool) | {"min_delay": 29}).values()), sender=owner)
    with ape.reverts("pool: min delay out of bounds"):
        pull_pool.queue_parameters(tuple((params | {"min_delay": 0}).values()), sender=owner)


def test_shutdown__its_first_price_late__fixes_the_nav_at_that_price_not_an_older_one(
    seeded, pull_book, minter, owner, keeper, prices, chain
):
    """A pull outage across the shutdown's expiry: the first price after its T is
    still the one nobody picks, late or not, so the NAV is fixed there; never at the
    reference of the last rebalance (ETH has fallen 10% since: -1x holders are owed
    about 10% more than that reference says)."""
    mint = request_mint(pull_book, minter, chain, 10_000 * USDC)
    mine_past(mint.not_before)
    settle_pull(pull_book, prices, keeper)
    receipt = seeded.shutdown(sender=owner)
    order = order_from_log(receipt.events.filter(pull_book.OrderRequested)[0])
    late = order.expires_at + 60
    mine_past(late)
    update = signed(late, 1_800 * 10**8, prev=order.not_before - 1)  # nothing published from T until then
    [log] = settled(settle_with(pull_book, keeper, order, update), seeded)
    assert (log.outcome, log.price) == (OUTCOME_VOID, 1_800 * WAD)
    assert seeded.is_shutdown()
    assert WAD * 1_099 // 1_000 < log.nav < WAD * 1_100 // 1_000  # -1x: NAV +10%, less the fee accrued


def test_fallback__a_proof_after_the_grace__voids_like_none_whoever_settles(
    seeded, pull_book, minter, keeper, stranger, collateral, prices, chain
):
    cash = collateral.balanceOf(minter)
    order = request_mint(pull_book, minter, chain)
    mine_past(order.expires_at + PULL_FALLBACK_GRACE + 1)
    snapshot = chain.snapshot()
    [without] = settled(pull_book.settle([order.as_struct()], [0], sender=keeper), seeded)
    chain.restore(snapshot)
    [proven] = settled(settle_with(pull_book, stranger, order, signed(order.not_before, 2_000 * 10**8)), seeded)
    assert without.outcome == proven.outcome == OUTCOME_VOID
    assert collateral.balanceOf(minter) == cash


def test_shutdown__its_first_price_too_uncertain__fixes_the_nav_there_not_at_an_older_price(
    seeded, pull_book, minter, owner, keeper, prices, chain
):
    """A confidence interval too wide to price an order (refunded) still is the first
    price after the shutdown's T: the NAV is fixed there, not at the last reference,
    which an owner watching a volatile market could otherwise foresee."""
    mint = request_mint(pull_book, minter, chain, 10_000 * USDC)
    mine_past(mint.not_before)
    settle_pull(pull_book, prices, keeper)
    order = order_from_log(seeded.shutdown(sender=owner).events.filter(pull_book.OrderRequested)[0])
    mine_past(order.not_before)
    update = signed(order.not_before, 1_800 * 10**8, conf=30 * 10**8)  # 1.7% of the price: too wide
    [log] = settled(settle_with(pull_book, keeper, order, update), seeded)
    assert (log.outcome, log.price) == (OUTCOME_VOID, 1_800 * WAD)
    assert WAD * 1_099 // 1_000 < log.nav < WAD * 1_100 // 1_000  # -1x: ETH -10%, NAV +10%


def test_attack__a_move_already_published__round_trip_earns_nothing(
    seeded, pull_book, stranger, keeper, collateral, prices, chain
):
    """On a pull market the update a trader sees coming is the one Pyth has just
    published: ETH falls 3% and the trader mints (-1x) at once, to redeem after. The
    mint is priced at the first price after its T, which already has the fall, so
    the round trip pays its fees and earns nothing."""
    cash = collateral.balanceOf(stranger)
    now = chain.pending_timestamp
    prices.set(1_940 * 10**8, now - 2)  # published two seconds ago: the trader saw it
    mint = request_mint(pull_book, stranger, chain, 100_000 * USDC)
    mine_past(mint.not_before)
    [filled] = settled(settle_pull(pull_book, prices, keeper), seeded)
    assert filled.price == 1_940 * WAD
    receipt = pull_book.request_redeem(
        seeded.balanceOf(stranger), 0, stranger, chain.pending_timestamp + 600, sender=stranger
    )
    redeem = order_from_log(receipt.events.filter(pull_book.OrderRequested)[0])
    mine_past(redeem.not_before)
    settle_pull(pull_book, prices, keeper)
    profit = collateral.balanceOf(stranger) - cash
    assert profit <= 0, profit


def test_settle__an_lp_deposit_ahead_of_a_mint_of_its_slot__settles_after_it_and_takes_none_of_its_fee(
    seeded, pull_book, pull_lens, stranger, minter, keeper, prices, chain, frozen_clock
):
    """The deposit-ahead-of-a-visible-mint attack on a pull market: one price settles
    both, the mint first; the attacker's round trip pays its two settle fees."""
    lp_token = ape.project.LpToken.at(seeded.lp_token())
    collateral = ape.project.MockCollateral.at(seeded.collateral())
    cash = collateral.balanceOf(stranger)
    slot_start()  # both requests in one slot (the clock held still)
    deadline = chain.pending_timestamp + 600
    receipt = pull_book.request_lp_deposit(200_000 * USDC, 0, stranger, deadline, sender=stranger)
    deposit = order_from_log(receipt.events.filter(pull_book.OrderRequested)[0])
    mint = request_mint(pull_book, minter, chain, 20_000 * USDC)
    mine_past(mint.not_before)
    logs = settled(settle_pull(pull_book, prices, keeper), seeded)
    assert [log.order_id for log in logs] == [mint.id, deposit.id] and logs[0].outcome == OUTCOME_FILLED
    assert logs[0].price == logs[1].price
    shares = lp_token.balanceOf(stranger)
    chain.mine(timestamp=chain.pending_timestamp + 1)  # not in the second of a rescale
    receipt = pull_book.request_lp_withdraw(shares, 0, stranger, chain.pending_timestamp + 600, sender=stranger)
    withdraw = order_from_log(receipt.events.filter(pull_book.OrderRequested)[0])
    mine_past(withdraw.not_before)
    settle_pull(pull_book, prices, keeper)
    profit = collateral.balanceOf(stranger) - cash
    assert lp_token.balanceOf(stranger) == 0
    assert -2 * SETTLE_FEE - 1 <= profit <= 0, f"the attacker made {profit / USDC:.2f} USDC"


def test_deploy_upkeep__on_a_pull_market__reverts(pull_pool, owner):
    """Chainlink Automation cannot bring Pyth updates: a pull market's keepers settle it."""
    with pytest.raises(ContractLogicError, match="^upkeep: pull market$"):
        deploy_upkeep(owner, pull_pool, owner.address)
