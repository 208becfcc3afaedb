"""Chainlink Automation alone runs the market (SPEC 2, 4): the `Upkeep` records each
order from its `OrderRequested` log (log trigger), and its custom-logic upkeep
settles the due orders at their rounds and rebalances when due. `Automation`
below behaves like the network: it calls `checkLog` for each `OrderRequested` log
of a receipt and performs what it returns, and calls `checkUpkeep` at each block
and performs when it says so, from a forwarder account."""

from __future__ import annotations

import ape
import pytest
from eth_abi import encode
from eth_utils import keccak

from inverse.automation import TAG_RECORD, decode_settle, handed_back, log_struct, record_data, settle_data
from inverse.constants import OUTCOME_FILLED, OUTCOME_VOID, REASON_THRESHOLD, REASON_TIME
from inverse.orders import RawFeed, settlement_batch
from tests.conftest import publish_round, settle_orders

from ..orders.conftest import USDC, later, latest_round_id, requested, settled, wad

SETTLE_FEE = USDC // 10
# Automation's limits on a check's gas and on perform data (its supported-networks
# page; perform data is smallest on OP Mainnet).
CHECK_GAS_LIMIT = 10_000_000
MAX_PERFORM_DATA = 1_000


class Automation:
    """The Automation network for one `Upkeep` registered twice: a log trigger on
    the book's `OrderRequested`, and custom logic. Logs it is told to drop are
    never checked (Automation reads logs best effort)."""

    def __init__(self, upkeep, book, forwarder, chain):
        self.upkeep, self.book, self.forwarder, self.chain = upkeep, book, forwarder, chain
        self.topic = keccak(text=book.contract_type.events["OrderRequested"].selector)
        self.log_trigger = "checkLog" in {abi.name for abi in upkeep.contract_type.abi if abi.type == "function"}
        self.drop: set[int] = set()  # order ids whose logs it misses
        self.performed: list = []

    def logs(self, receipt) -> None:
        """The log trigger, for each `OrderRequested` log of `receipt`."""
        if not self.log_trigger:
            return  # registered as custom logic only
        for log in receipt.logs:
            if log["address"] != self.book.address or bytes(log["topics"][0]) != self.topic:
                continue
            if int.from_bytes(bytes(log["topics"][1]), "big") in self.drop:
                continue
            needed, data = self.upkeep.checkLog(log_struct(log, receipt.timestamp), b"")
            if needed:
                self.performed.append(self.upkeep.performUpkeep(data, sender=self.forwarder))

    def block(self):
        """The custom-logic upkeep at the chain's head: the perform receipt, or None."""
        needed, data = self.upkeep.checkUpkeep(b"")
        if not needed:
            return None
        receipt = self.upkeep.performUpkeep(data, sender=self.forwarder)
        self.performed.append(receipt)
        return receipt

    def request(self, receipt):
        """A user's request: its log is checked, then the block's check runs."""
        self.logs(receipt)
        self.block()
        return requested(receipt, self.book)


@pytest.fixture
def automation(upkeep, book, chain, accounts):
    return Automation(upkeep, book, accounts[8], chain)


def _settlements(automation, pool) -> list:
    return [log for receipt in automation.performed for log in settled(receipt, pool)]


def test_automation__alone__settles_orders_at_their_rounds_and_rebalances(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, redeemer, lp, collateral, chain
):
    """The stall of issue 21 (8): with a rebalance due, orders whose round is out held
    it, and nothing in Automation settled them. Now one perform settles them at
    their round, then rebalances; the fees and bounty reach the receiver."""
    chain.mine(timestamp=order_pool.last_rebalance() + order_pool.parameters().interval + 1)
    receiver = upkeep.receiver()
    cash = collateral.balanceOf(receiver)
    shares = order_pool.balanceOf(minter) // 4
    order_pool.transfer(redeemer, shares, sender=minter)
    orders = [
        automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter)),
        automation.request(book.request_redeem(shares, 0, redeemer, later(chain), sender=redeemer)),
        automation.request(book.request_lp_deposit(2_000 * USDC, 0, lp, later(chain), sender=lp)),
    ]
    assert automation.block() is None  # their round is not out: nothing to do
    publish_round(feed, owner, chain, 1_980 * 10**8, after=orders[-1].not_before)
    their_round = latest_round_id(feed)
    assert not order_pool.rebalance_due()  # the orders first

    receipt = automation.block()

    assert receipt is not None, "Automation did nothing while due orders held the rebalance"
    logs = settled(receipt, order_pool)
    assert [(log.order_id, log.outcome, log.round_id) for log in logs] == [
        (o.id, OUTCOME_FILLED, their_round) for o in orders
    ]
    assert all(log.price == wad(1_980 * 10**8) and log.settler == upkeep.address for log in logs)
    [rebalance] = receipt.events.filter(order_pool.Rebalance)
    assert (rebalance.keeper, rebalance.reason, rebalance.price) == (receiver, REASON_TIME, wad(1_980 * 10**8))
    assert collateral.balanceOf(receiver) == cash + 3 * SETTLE_FEE + rebalance.bounty
    assert collateral.balanceOf(upkeep) == 0
    assert book.pending_orders() == 0 and automation.block() is None


def test_automation__price_past_the_threshold__settles_the_order_then_rebalances_in_one_perform(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, chain
):
    order = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    publish_round(feed, owner, chain, 1_600 * 10**8, after=order.not_before)  # -20%: past the 14% threshold
    assert decode_settle(upkeep.checkUpkeep(b"")[1])[0] == order_pool.last_rebalance()  # a rebalance expected

    receipt = automation.block()

    [log] = settled(receipt, order_pool)
    [rebalance] = receipt.events.filter(order_pool.Rebalance)
    assert (log.order_id, log.price) == (order.id, wad(1_600 * 10**8))  # at the pool before the reset
    assert (rebalance.reason, rebalance.price) == (REASON_THRESHOLD, wad(1_600 * 10**8))


def test_automation__across_a_phase_switch__settles_at_the_next_phases_first_round(
    order_seeded, order_pool, book, automation, feed, owner, minter, chain
):
    order = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    old_last = latest_round_id(feed)
    chain.mine(timestamp=order.not_before + 5)
    feed.new_phase(1_950 * 10**8, sender=owner)  # the old aggregator silent: its round is the new phase's
    first = latest_round_id(feed)
    needed, data = automation.upkeep.checkUpkeep(b"")
    assert needed and decode_settle(data)[2] == [old_last << 80 | first]  # a next-phase proof, as the keeper's

    [log] = settled(automation.block(), order_pool)

    assert (log.order_id, log.outcome, log.price, log.round_id) == (order.id, OUTCOME_FILLED, wad(1_950 * 10**8), first)


def test_automation__no_round_by_expiry__void_order_refunded(
    order_seeded, order_pool, book, upkeep, automation, minter, collateral, chain
):
    cash = collateral.balanceOf(minter)
    order = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    chain.mine(timestamp=order.expires_at - 10)
    assert automation.block() is None
    chain.mine(timestamp=order.expires_at + 1)
    receiver_cash = collateral.balanceOf(upkeep.receiver())

    [log] = settled(automation.block(), order_pool)

    assert (log.order_id, log.outcome, log.refunded, log.settle_fee) == (order.id, OUTCOME_VOID, order.amount, 0)
    assert collateral.balanceOf(minter) == cash  # settle fee included
    assert collateral.balanceOf(upkeep.receiver()) == receiver_cash
    assert collateral.balanceOf(upkeep) == 0


def test_perform__a_competitor_settled_and_rebalanced_first__does_nothing_and_does_not_revert(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, keeper, collateral, chain
):
    chain.mine(timestamp=order_pool.last_rebalance() + order_pool.parameters().interval + 1)
    orders = [
        automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter)) for _ in range(2)
    ]
    publish_round(feed, owner, chain, after=orders[-1].not_before)
    needed, data = upkeep.checkUpkeep(b"")
    assert needed and decode_settle(data)[1:] == (orders[0].id, [latest_round_id(feed)] * 2)
    settle_orders(book, feed, keeper, chain)  # a keeper is first, in the block before
    order_pool.rebalance(sender=keeper)
    receiver_cash = collateral.balanceOf(upkeep.receiver())

    receipt = upkeep.performUpkeep(data, sender=automation.forwarder)

    assert settled(receipt, order_pool) == [] and list(receipt.events.filter(order_pool.Rebalance)) == []
    assert collateral.balanceOf(upkeep.receiver()) == receiver_cash
    assert receipt.gas_used < 80_000  # what the front-run cost the upkeep (BENCHMARKS.md)


def test_perform__a_competitor_settled_part__settles_the_rest(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, keeper, collateral, chain
):
    orders = [
        automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter)) for _ in range(3)
    ]
    publish_round(feed, owner, chain, after=orders[-1].not_before)
    needed, data = upkeep.checkUpkeep(b"")
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp, limit=1)
    book.settle(batch, round_ids, sender=keeper)
    cash = collateral.balanceOf(upkeep.receiver())

    logs = settled(upkeep.performUpkeep(data, sender=automation.forwarder), order_pool)

    assert [log.order_id for log in logs] == [orders[1].id, orders[2].id]
    assert collateral.balanceOf(upkeep.receiver()) == cash + 2 * SETTLE_FEE


def test_record__forged_order__reverts_and_changes_nothing(order_seeded, book, upkeep, automation, minter, chain):
    automation.drop.add(book.next_order())
    order = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    empty = upkeep.recorded(order.id)
    for forged in (
        order.as_struct()[:4] + (order.amount * 10,) + order.as_struct()[5:],  # a larger amount
        order.as_struct()[:2] + (upkeep.address,) + order.as_struct()[3:],  # another requester
        (order.id + 1,) + order.as_struct()[1:],  # the next id, not requested
    ):
        with ape.reverts("upkeep: not a pending order of the book"):
            upkeep.record(forged, sender=minter)
        with ape.reverts("upkeep: not a pending order of the book"):
            upkeep.performUpkeep(encode(["uint256", _ORDER], [TAG_RECORD, forged]), sender=minter)
    assert upkeep.recorded(order.id) == empty and upkeep.recorded(order.id + 1) == empty
    assert upkeep.checkUpkeep(b"")[0] is False


def test_record__dropped_log__backfilled_by_anyone_then_settled(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, stranger, chain
):
    first = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    automation.drop.add(first.id + 1)
    missed = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    third = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    assert upkeep.recorded(first.id) == first.as_struct() and upkeep.recorded(missed.id)[0] == 0
    publish_round(feed, owner, chain, after=third.not_before)

    assert [log.order_id for log in settled(automation.block(), order_pool)] == [first.id]  # up to the gap
    assert automation.block() is None
    tx = upkeep.record(missed.as_struct(), sender=stranger)  # from its OrderRequested event

    assert tx.events == [upkeep.OrderRecorded(order_id=missed.id)]
    assert [log.order_id for log in settled(automation.block(), order_pool)] == [missed.id, third.id]
    with ape.reverts("upkeep: order already recorded"):
        upkeep.record(missed.as_struct(), sender=stranger)


def test_perform__record_repeated_or_after_settlement__does_nothing(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, keeper, chain
):
    order = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    again = upkeep.performUpkeep(record_data(order), sender=automation.forwarder)
    assert list(again.events.filter(upkeep.OrderRecorded)) == []
    automation.drop.add(order.id + 1)
    late = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    publish_round(feed, owner, chain, after=late.not_before)
    settle_orders(book, feed, keeper, chain)  # settled before Automation got to its log

    receipt = upkeep.performUpkeep(record_data(late), sender=automation.forwarder)

    assert list(receipt.events.filter(upkeep.OrderRecorded)) == [] and upkeep.recorded(late.id)[0] == 0


def test_automation__batch_of_20__settled_in_one_perform_within_automations_limits(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, collateral, chain, frozen_clock
):
    chain.mine(timestamp=chain.pending_timestamp + 60)
    records = []
    for _ in range(20):
        receipt = book.request_mint(100 * USDC, 0, minter, later(chain), sender=minter)
        automation.logs(receipt)
        records.append(automation.performed[-1].gas_used)
    publish_round(feed, owner, chain, after=chain.pending_timestamp + order_pool.parameters().min_delay)
    call = {"to": upkeep.address, "data": upkeep.checkUpkeep.encode_input(b"")}
    check_gas = chain.provider.web3.eth.estimate_gas(call)
    needed, data = upkeep.checkUpkeep(b"")
    # The same round ids as the keeper's off-chain search.
    _, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    assert needed and decode_settle(data) == (0, book.next_order(), round_ids)
    cash = collateral.balanceOf(upkeep.receiver())

    receipt = upkeep.performUpkeep(data, sender=automation.forwarder)

    assert len(settled(receipt, order_pool)) == 20 and book.pending_orders() == 0
    assert collateral.balanceOf(upkeep.receiver()) == cash + 20 * SETTLE_FEE
    assert check_gas < CHECK_GAS_LIMIT // 10 and len(data) < MAX_PERFORM_DATA
    assert max(records) < 150_000
    print(f"record {max(records):,} check(20) {check_gas:,} perform(20) {receipt.gas_used:,}")


def test_automation__shutdown_then_a_redeem__settled_together_the_redeem_without_a_round(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, chain
):
    shutdown = automation.request(order_pool.shutdown(sender=owner))
    shares = order_pool.balanceOf(minter) // 2
    redeem = automation.request(book.request_redeem(shares, 0, minter, later(chain), sender=minter))
    publish_round(feed, owner, chain, after=redeem.not_before)
    needed, data = upkeep.checkUpkeep(b"")
    assert needed and decode_settle(data) == (0, shutdown.id, [latest_round_id(feed), 0])

    logs = settled(automation.block(), order_pool)

    assert [log.order_id for log in logs] == [shutdown.id, redeem.id] and order_pool.is_shutdown()
    assert automation.block() is None  # no rebalance after shutdown


def test_check_log__a_log_that_is_not_the_books_order_requested__reverts(
    order_seeded, book, upkeep, automation, minter, chain
):
    receipt = book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter)
    [raw] = [log for log in receipt.logs if log["address"] == book.address]
    good = log_struct(raw, receipt.timestamp)
    for bad in (
        good[:5] + (upkeep.address,) + good[6:],  # another contract's
        good[:6] + ([keccak(text="Other()")] + good[6][1:],) + good[7:],  # another event
        good[:7] + (good[7] + b"\x00" * 32,),  # another shape
    ):
        with ape.reverts("upkeep: not the book's OrderRequested"):
            upkeep.checkLog(bad, b"")
    assert upkeep.checkLog(good, b"")[0] is True


def test_abi__selectors__are_chainlinks(upkeep):
    """`ILogAutomation.checkLog` and `AutomationCompatibleInterface`'s two functions."""
    selectors = {abi.name: abi.selector for abi in upkeep.contract_type.abi if abi.type == "function"}
    assert keccak(text=selectors["checkLog"])[:4].hex() == "40691db4"
    assert selectors["checkLog"] == "checkLog((uint256,uint256,bytes32,uint256,bytes32,address,bytes32[],bytes),bytes)"
    assert keccak(text=selectors["checkUpkeep"])[:4].hex() == "6e04ff0d"
    assert keccak(text=selectors["performUpkeep"])[:4].hex() == "4585e33b"


_ORDER = "(uint256,uint256,address,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
_ZERO = "0x" + "00" * 20
_RECORD = encode(["uint256", _ORDER], [TAG_RECORD, (1, 1, _ZERO, _ZERO, 1, 0, 1, 1, 1, 0, 0, 1)])


@pytest.mark.parametrize(
    "data, reason",
    [
        (b"", "upkeep: empty perform data"),
        (encode(["uint256"], [3]), "upkeep: unknown perform data"),
        (_RECORD[:-32], "upkeep: malformed record"),
        (_RECORD[:96] + b"\x01" * 32 + _RECORD[128:], "upkeep: malformed record"),  # a requester past 160 bits
        (encode(["uint256", "uint256"], [2, 1]), "upkeep: malformed settlement"),
        (settle_data(1, [1, 2], 1)[:-32], "upkeep: malformed settlement"),  # fewer round ids than it says
        (encode(["uint256", "uint256", "uint256", "uint256[]"], [2, 2**40 + 1, 1, []]), "upkeep: malformed settlement"),
        (encode(["uint256", "uint256", "uint256", "uint256[]"], [2, 0, 2**40 + 1, []]), "upkeep: malformed settlement"),
    ],
    ids=[
        "empty",
        "unknown tag",
        "short record",
        "wide address",
        "short settlement",
        "short ids",
        "wide time",
        "wide id",
    ],
)
def test_perform_upkeep__malformed_perform_data__reverts_with_a_reason(upkeep, keeper, data, reason):
    with ape.reverts(reason):
        upkeep.performUpkeep(data, sender=keeper)


def test_perform_upkeep__settlement_of_an_order_not_recorded__reverts(
    order_seeded, book, upkeep, automation, feed, owner, minter, keeper, chain
):
    automation.drop.add(book.next_order())
    order = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    publish_round(feed, owner, chain, after=order.not_before)
    with ape.reverts("upkeep: order not recorded"):
        upkeep.performUpkeep(settle_data(order.id, [latest_round_id(feed)]), sender=keeper)


def test_automation__a_deposit_held_in_an_earlier_settlement__is_handed_back_and_settles_last_in_its_round(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, lp, keeper, chain
):
    """A settler took only the LP deposit of a round (the book holds it: a mint of
    its round is behind it). Automation hands it back with the rest of the round."""
    deposit = automation.request(book.request_lp_deposit(2_000 * USDC, 0, lp, later(chain), sender=lp))
    mint = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    publish_round(feed, owner, chain, after=mint.not_before)
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    book.settle(batch[:1], round_ids[:1], sender=keeper)
    assert book.held_deposits()[:2] == (1, deposit.id)

    needed, data = upkeep.checkUpkeep(b"")
    assert needed and handed_back(data) == [deposit.id] and decode_settle(data)[1] == mint.id
    receipt = automation.block()

    assert [log.order_id for log in settled(receipt, order_pool)] == [mint.id, deposit.id]
    assert book.held_deposits()[0] == 0 and book.pending_orders() == 0 and automation.block() is None


def test_automation__a_held_deposit_whose_round_is_over__settles_alone_and_not_before(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, lp, keeper, chain
):
    """Held alone, a deposit settles once its round is over (the next order is of a
    later round); while the round goes on, the check says nothing is to do."""
    deposit = automation.request(book.request_lp_deposit(2_000 * USDC, 0, lp, later(chain), sender=lp))
    same_round = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    publish_round(feed, owner, chain, after=same_round.not_before)
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    book.settle(batch[:1], round_ids[:1], sender=keeper)  # the deposit, held
    assert upkeep.checkUpkeep(b"")[0]  # the mint of its round, and the deposit after it
    # A keeper settles the mint without handing the deposit back: it stays held.
    book.settle(batch[1:2], round_ids[1:2], sender=keeper)
    assert book.held_deposits()[0] == 1 and book.pending_orders() == 0
    # None waits behind it: its round is over, Automation hands it back.
    receipt = automation.block()
    assert [log.order_id for log in settled(receipt, order_pool)] == [deposit.id]
    assert book.held_deposits()[0] == 0 and automation.block() is None


def test_automation__more_held_deposits_than_a_perform_hands_back__settles_them_over_performs_in_order(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, lp, keeper, chain
):
    """Eight deposits held (a settler took them, then their round's mint, without
    handing them back), then an order of a later round: Automation hands back six
    (a perform's most), then the last two and the later order after them; never
    the later order first."""
    deposits = [
        automation.request(book.request_lp_deposit(100 * USDC, 0, lp, later(chain), sender=lp)) for _ in range(8)
    ]
    mint = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    publish_round(feed, owner, chain, after=mint.not_before)
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    book.settle(batch[:8], round_ids[:8], sender=keeper)  # the deposits: held
    book.settle(batch[8:], round_ids[8:], sender=keeper)  # their round's mint, none handed back
    # An order of a later round, due at once: six go back first, alone (the two
    # not handed back must settle before it), then the last two and the order.
    receipt = book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter)
    automation.logs(receipt)
    later_mint = requested(receipt, book)
    publish_round(feed, owner, chain, after=later_mint.not_before)

    first, second = automation.block(), automation.block()

    assert [log.order_id for log in settled(first, order_pool)] == [d.id for d in deposits[:6]]
    assert [log.order_id for log in settled(second, order_pool)] == [d.id for d in deposits[6:]] + [later_mint.id]
    assert book.held_deposits()[0] == 0 and automation.block() is None


def test_automation__a_held_deposit_whose_log_it_missed__waits_for_its_record_and_never_reverts(
    order_seeded, order_pool, book, upkeep, automation, feed, owner, minter, lp, keeper, chain
):
    """Automation cannot hand back a held deposit it never recorded: its check says
    nothing is to do (a perform would revert) until someone records it."""
    receipt = book.request_lp_deposit(2_000 * USDC, 0, lp, later(chain), sender=lp)
    deposit = requested(receipt, book)  # its log missed
    mint = automation.request(book.request_mint(1_000 * USDC, 0, minter, later(chain), sender=minter))
    publish_round(feed, owner, chain, after=mint.not_before)
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    book.settle(batch[:1], round_ids[:1], sender=keeper)  # the deposit: held
    assert upkeep.checkUpkeep(b"") == (False, b"")
    upkeep.record(deposit.as_struct(), sender=keeper)
    receipt = automation.block()
    assert [log.order_id for log in settled(receipt, order_pool)] == [mint.id, deposit.id]
