"""The Pyth adapter: `prove` keeps, per slot, the first price published at or after the
slot's time, proven by Pyth whoever brings it; `order_rounds` fills an order at it, or
voids it when late or invalid on its own data, or (the fallback) when no proof came by
the expiry plus the grace; `latest()` is the newest proof of a recent slot, what
rebalances use; `price()` the newest price on-chain, for views."""

import re

import ape
import pytest

from inverse.constants import PULL_FALLBACK_GRACE, PULL_REBALANCE_WINDOW, ROUND_FILL, ROUND_VOID, WAD
from inverse.pyth import TEST_SIGNER, PriceUpdate

ETH_USD = bytes.fromhex("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace")
BTC_USD = bytes.fromhex("e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43")
MAX_AGE = 60
MAX_CONFIDENCE = WAD // 100  # 1% of the price


def update(publish_time, prev=None, price=2_000 * 10**8, conf=10**6, expo=-8, feed=ETH_USD):
    prev = publish_time - 1 if prev is None else prev
    return PriceUpdate(feed, price, conf, expo, publish_time, prev).sign()


def custom_error(selector: str):
    return ape.reverts(re.compile(f"^(custom error )?0x{selector}$"))


@pytest.fixture(scope="module")
def pyth(owner, stranger, project):
    return owner.deploy(project.MockPyth, TEST_SIGNER, 1)


@pytest.fixture(scope="module")
def adapter(owner, pyth, project):
    return owner.deploy(project.PythOracle, pyth, ETH_USD, MAX_AGE, MAX_CONFIDENCE)


def prove(adapter, sender, updates, value=None, refund_to=None):
    """`prove` for (slot, update) pairs, paying the mock's fee (1 wei per update)."""
    updates = [(slot, data) for slot, data in updates]
    value = len(updates) if value is None else value
    return adapter.prove(updates, refund_to or sender.address, value=value, sender=sender)


def query(not_before, expires_at=None):
    expires_at = not_before + 300 if expires_at is None else expires_at
    return (0, 0, not_before, not_before - 5, expires_at)


@pytest.fixture
def T(chain):
    """An order's time a quarter of an hour ago: its proof still comes in time."""
    now = chain.pending_timestamp
    return now - now % 5 - 1_000


def priced(adapter, *queries):
    return [tuple(p) for p in adapter.order_rounds(list(queries))]


def test_prove__the_first_at_or_after_t__kept_and_fills_at_its_price(adapter, owner, T):
    receipt = prove(adapter, owner, [(T, update(T, T - 1))])
    assert tuple(adapter.proven(T)) == (True, 2_000 * WAD, T)
    assert [log.not_before for log in receipt.events] == [T]
    assert priced(adapter, query(T)) == [(ROUND_FILL, T, 2_000 * WAD, T)]
    # Published later than T but still the first after it (nothing between T and it).
    prove(adapter, owner, [(T + 5, update(T + 7, T - 3, price=2_010 * 10**8))])
    assert priced(adapter, query(T + 5)) == [(ROUND_FILL, T + 7, 2_010 * WAD, T + 7)]


def test_prove__a_later_price_than_the_first__is_refused_by_pyth(adapter, owner, T):
    with custom_error("45805f5d"):  # PriceFeedNotFoundWithinRange(): a settler cannot pick it
        prove(adapter, owner, [(T, update(T + 2, T + 1))])


def test_prove__an_update_before_the_slot__is_refused_by_pyth(adapter, owner, T):
    with custom_error("45805f5d"):
        prove(adapter, owner, [(T, update(T - 1, T - 2))])


def test_prove__another_feeds_update__is_refused(adapter, owner, T):
    with custom_error("45805f5d"):
        prove(adapter, owner, [(T, update(T, feed=BTC_USD))])


def test_prove__a_tampered_update__is_refused(adapter, owner, T):
    data = bytearray(update(T))
    data[63] ^= 1  # the price's last byte
    with ape.reverts():
        prove(adapter, owner, [(T, bytes(data))])
    assert tuple(adapter.proven(T)) == (False, 0, 0)


def test_prove__fee_short__refused_and_change_refunded(adapter, owner, stranger, T):
    with ape.reverts("oracle: update fee not paid"):
        prove(adapter, owner, [(T, update(T)), (T + 5, update(T + 5))], value=1)
    before = stranger.balance
    prove(adapter, owner, [(T, update(T))], value=1_000, refund_to=stranger.address)
    assert stranger.balance == before + 999  # the mock's fee is 1 wei
    assert adapter.balance == 0


def test_prove__a_slot_proven_already__is_skipped_and_its_fee_refunded(adapter, owner, stranger, T):
    prove(adapter, owner, [(T, update(T, T - 1))])
    before = stranger.balance
    # A competing settler's proof of the same slot: nothing changes, nothing is spent.
    receipt = prove(adapter, owner, [(T, update(T, T - 1, price=1 * 10**8))], value=1, refund_to=stranger.address)
    assert not receipt.events
    assert stranger.balance == before + 1
    assert tuple(adapter.proven(T)) == (True, 2_000 * WAD, T)


def test_prove__several_slots_in_one_call__each_its_own_first_price(adapter, owner, T):
    prove(adapter, owner, [(T, update(T, T - 1)), (T + 10, update(T + 11, T + 9, price=1_990 * 10**8))])
    assert priced(adapter, query(T), query(T), query(T + 10)) == [
        (ROUND_FILL, T, 2_000 * WAD, T),
        (ROUND_FILL, T, 2_000 * WAD, T),
        (ROUND_FILL, T + 11, 1_990 * WAD, T + 11),
    ]


@pytest.mark.parametrize("slot", ["zero", "T + 1", "T - 3", "2**64 + 5"])
def test_prove__not_a_slot_time__refused(adapter, owner, slot, T):
    slot = {"zero": 0, "T + 1": T + 1, "T - 3": T - 3, "2**64 + 5": 2**64 + 5}[slot]
    with ape.reverts(re.compile("^oracle: (not a slot time|slot in the future)$")):
        prove(adapter, owner, [(slot, update(T))])


def test_prove__a_slot_the_chains_clock_has_not_reached__refused(adapter, owner, chain):
    """Even when Pyth's clock is ahead of the chain's: no order is due before its T."""
    slot = recent_slot(chain) + 5
    with ape.reverts("oracle: slot in the future"):
        prove(adapter, owner, [(slot, update(slot))])


def test_order_rounds__published_after_the_expiry__void_with_that_late_price(adapter, owner, T):
    # The first price after T is still unique when late: an order is refunded, a
    # shutdown fixes its NAV at it (never at an older price).
    prove(adapter, owner, [(T, update(T + 301, T - 1))])
    assert priced(adapter, query(T, T + 300)) == [(ROUND_VOID, T + 301, 2_000 * WAD, T + 301)]
    assert priced(adapter, query(T, T + 301))[0][0] == ROUND_FILL


def test_order_rounds__unproven__waits_until_the_fallback_grace_then_void(adapter, chain):
    now = chain.pending_timestamp
    slot = now - now % 5 - 1_000
    expires_at = slot + 300
    assert priced(adapter, query(slot, expires_at)) == []  # wait: a proof may still come
    grace = PULL_FALLBACK_GRACE
    chain.mine(timestamp=expires_at + grace - 1)
    assert priced(adapter, query(slot, expires_at)) == []
    chain.mine(timestamp=expires_at + grace)
    assert priced(adapter, query(slot, expires_at)) == [(ROUND_VOID, 0, 0, expires_at)]


def test_order_rounds__a_proof_brought_in_the_deadlines_own_second__does_not_count(adapter, owner, chain):
    now = chain.pending_timestamp
    slot = now - now % 5 - 1_000
    expires_at = slot + 300
    chain.mine(timestamp=expires_at + PULL_FALLBACK_GRACE - 1)
    chain.pending_timestamp = expires_at + PULL_FALLBACK_GRACE
    prove(adapter, owner, [(slot, update(slot))])
    assert priced(adapter, query(slot, expires_at)) == [(ROUND_VOID, 0, 0, expires_at)]


def test_order_rounds__a_proof_brought_after_the_grace__does_not_count(adapter, owner, chain):
    """Past the deadline the fallback stands whoever settles: nobody chooses between
    a refund (no proof) and a fill (a proof brought now)."""
    now = chain.pending_timestamp
    slot = now - now % 5 - 1_000
    expires_at = slot + 300
    chain.mine(timestamp=expires_at + PULL_FALLBACK_GRACE + 1)
    prove(adapter, owner, [(slot, update(slot))])
    assert adapter.proven(slot)[0]
    assert priced(adapter, query(slot, expires_at)) == [(ROUND_VOID, 0, 0, expires_at)]


def test_order_rounds__stops_at_the_first_order_that_waits(adapter, owner, T):
    prove(adapter, owner, [(T, update(T, T - 1))])
    # T + 5 is unproven and its grace far off in the chain's time: the answers stop there.
    assert priced(adapter, query(T), query(T + 5, 2**60), query(T)) == [(ROUND_FILL, T, 2_000 * WAD, T)]


@pytest.mark.parametrize(
    "fields, void_price",
    [
        ({"price": 0}, 0),
        ({"price": -5}, 0),
        # Just over 1% of 2,000: void for orders; its price only for a shutdown's NAV.
        ({"conf": 20 * 10**8 + 1}, 2_000 * WAD),
        ({"price": -(2**63)}, 0),
        ({"expo": -37}, 0),
        ({"expo": 19}, 0),
        ({"price": 2 * 10**18, "expo": 0}, 0),  # 2e18 USD: above MAX_PRICE (1e18 USD)
        ({"price": 10**17, "conf": 10**14, "expo": -36}, 0),  # 1e-19 USD: 0 as a WAD
    ],
)
def test_prove__invalid_on_its_own_data__kept_as_void(adapter, owner, fields, void_price, T):
    prove(adapter, owner, [(T, update(T, **fields))])
    assert tuple(adapter.proven(T)) == (True, 0, T)
    assert priced(adapter, query(T)) == [(ROUND_VOID, T, void_price, T)]


@pytest.mark.parametrize(
    "fields, wad",
    [
        ({"conf": 20 * 10**8}, 2_000 * WAD),  # conf exactly 1% of the price
        ({"price": 10**18, "conf": 0, "expo": 0}, 10**36),  # exactly MAX_PRICE
        ({"price": 1, "conf": 0, "expo": 18}, 10**36),  # the largest exponent, at MAX_PRICE
        ({"price": 2 * 10**18, "conf": 10**15, "expo": -18}, 2 * WAD),  # 2 USD
        ({"price": 2 * 10**18, "conf": 10**15, "expo": -20}, 2 * WAD // 100),  # 0.02 USD, divided
        ({"price": 5 * 10**18, "conf": 0, "expo": -36}, 5),  # the smallest exponent: 5e-18 USD
    ],
)
def test_prove__at_the_bounds__fills_at_the_exact_wad(adapter, owner, fields, wad, T):
    prove(adapter, owner, [(T, update(T, **fields))])
    assert priced(adapter, query(T))[0][:3] == (ROUND_FILL, T, wad)


def recent_slot(chain, back=0):
    """A slot that has just begun: the chain is moved to its first second."""
    now = chain.pending_timestamp
    slot = now - now % 5 + 5
    chain.mine(timestamp=slot)
    return slot - back


def test_latest__the_newest_proven_slots_price__while_recent(adapter, owner, chain, frozen_clock):
    with ape.reverts("oracle: no price proven"):
        adapter.latest()
    slot = recent_slot(chain)
    prove(adapter, owner, [(slot, update(slot, price=2_100 * 10**8))])
    chain.mine(timestamp=slot + 4)
    assert tuple(adapter.latest()) == (2_100 * WAD, slot, 0)
    # An older slot's proof (an order's, say) is kept for it but does not go back in time.
    prove(adapter, owner, [(slot - 5, update(slot - 5, price=2_200 * 10**8))])
    assert adapter.latest()[0] == 2_100 * WAD
    # A 12-second block later it still serves: a keeper on Ethereum proves the
    # head's slot and its transaction lands in the next block.
    chain.mine(timestamp=slot + PULL_REBALANCE_WINDOW - 1)
    assert adapter.latest()[:2] == (2_100 * WAD, slot)
    # Past the window it no longer does; a newer slot's proof takes over.
    chain.mine(timestamp=slot + PULL_REBALANCE_WINDOW)
    with ape.reverts("oracle: prove a recent slot's price"):
        adapter.latest()
    later = slot + PULL_REBALANCE_WINDOW
    prove(adapter, owner, [(later, update(later, price=2_400 * 10**8))])
    assert adapter.latest()[:2] == (2_400 * WAD, later)


def test_latest__an_invalid_price_never_replaces_a_valid_one(adapter, owner, chain, frozen_clock):
    slot = recent_slot(chain)
    prove(adapter, owner, [(slot, update(slot))])
    chain.mine(timestamp=slot + 5)
    prove(adapter, owner, [(slot + 5, update(slot + 5, conf=10**11))])  # conf 50% of the price
    assert tuple(adapter.proven(slot + 5)) == (True, 0, slot + 5)
    assert adapter.latest()[1] == slot  # still the valid proof of the slot before
    chain.mine(timestamp=slot + PULL_REBALANCE_WINDOW)
    with ape.reverts("oracle: prove a recent slot's price"):
        adapter.latest()


def test_latest__published_ahead_of_the_chains_clock__refused_until_it_catches_up(adapter, owner, chain):
    slot = recent_slot(chain)
    prove(adapter, owner, [(slot, update(slot + 3, slot - 1))])
    if chain.pending_timestamp < slot + 3:
        with ape.reverts("oracle: price from the future"):
            adapter.latest()
    chain.mine(timestamp=slot + 3)
    assert adapter.latest()[1] == slot + 3


def test_price__newest_of_the_stored_price_and_the_latest_proof(adapter, pyth, owner, chain):
    with ape.reverts("oracle: no price"):
        adapter.price()
    now = chain.pending_timestamp
    pyth.updatePriceFeeds([update(now - 5, price=2_345_678 * 10**5, expo=-8)], value=1, sender=owner)
    assert adapter.price() == 2_345_678 * WAD // 1_000  # 2,345.678
    slot = recent_slot(chain)
    if slot > now - 5:
        prove(adapter, owner, [(slot, update(slot, price=2_500 * 10**8))])
        assert adapter.price() == 2_500 * WAD
    chain.mine(timestamp=now + MAX_AGE + 10)
    with ape.reverts("oracle: stale price"):
        adapter.price()


def test_price__from_the_future__refused(adapter, pyth, owner, chain):
    now = chain.pending_timestamp
    pyth.updatePriceFeeds([update(now + 30)], value=1, sender=owner)
    with ape.reverts("oracle: price from the future"):
        adapter.price()


def test_price__invalid_stored_price__refused(adapter, pyth, owner, chain):
    now = chain.pending_timestamp
    pyth.updatePriceFeeds([update(now - 1, conf=10**11)], value=1, sender=owner)  # conf 50% of the price
    with ape.reverts("oracle: invalid price"):
        adapter.price()


def test_feed__none_on_a_pull_market(adapter):
    assert adapter.feed() == "0x0000000000000000000000000000000000000000"


@pytest.mark.parametrize(
    "args, reason",
    [
        (("zero", ETH_USD, MAX_AGE, MAX_CONFIDENCE), "oracle: pyth is not a contract"),
        (("pyth", b"\0" * 32, MAX_AGE, MAX_CONFIDENCE), "oracle: zero price id"),
        (("pyth", ETH_USD, 0, MAX_CONFIDENCE), "oracle: max age out of bounds"),
        (("pyth", ETH_USD, 3_601, MAX_CONFIDENCE), "oracle: max age out of bounds"),
        (("pyth", ETH_USD, MAX_AGE, WAD // 1_000 - 1), "oracle: max confidence out of bounds"),
        (("pyth", ETH_USD, MAX_AGE, WAD // 20 + 1), "oracle: max confidence out of bounds"),
    ],
)
def test_deploy__bad_arguments__refused_with_reason(pyth, accounts, project, args, reason):
    target = {"zero": "0x0000000000000000000000000000000000000000", "pyth": pyth.address}[args[0]]
    with pytest.raises(ape.exceptions.ContractLogicError, match=f"^{re.escape(reason)}$"):
        accounts[8].deploy(project.PythOracle, target, *args[1:])
