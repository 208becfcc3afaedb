"""The Pyth adapter: `first_price` is the first price published at or after T, proven by
Pyth whoever brings it, and void when late or invalid on its own data; `price()` is the
stored price, fresh and valid, as a WAD."""

import re

import ape
import pytest

from inverse.constants import ROUND_FILL, ROUND_VOID, WAD
from inverse.pyth import TEST_SIGNER, PriceUpdate

ETH_USD = bytes.fromhex("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace")
BTC_USD = bytes.fromhex("e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43")
MAX_AGE = 60
MAX_CONFIDENCE = WAD // 100  # 1% of the price
T = 1_000_000


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


def first(adapter, data, not_before=T, expires_at=T + 300, value=None):
    """`first_price` on one update (or a list of them), paying the update fee."""
    data = data if isinstance(data, list) else [data]
    value = len(data) if value is None else value  # the mock's fee: 1 wei per update
    return tuple(adapter.first_price.call(data, not_before, expires_at, value=value))


def test_first_price__the_first_at_or_after_t__fills_at_its_price(adapter):
    assert first(adapter, update(T, T - 1)) == (ROUND_FILL, 2_000 * WAD, T)
    # Published later than T but still the first after it (nothing between T and it).
    assert first(adapter, update(T + 7, T - 3, price=2_010 * 10**8)) == (ROUND_FILL, 2_010 * WAD, T + 7)


def test_first_price__a_later_price_than_the_first__is_refused_by_pyth(adapter):
    with custom_error("45805f5d"):  # PriceFeedNotFoundWithinRange(): a settler cannot pick it
        first(adapter, update(T + 2, T + 1))


def test_first_price__another_feeds_update__is_refused(adapter):
    with custom_error("45805f5d"):
        first(adapter, update(T, feed=BTC_USD))


@pytest.mark.parametrize("value", [0, 2])
def test_first_price__not_exactly_the_update_fee__is_refused(adapter, value):
    # Short, Pyth would refuse it; above, Pyth would keep the rest.
    with ape.reverts("oracle: pay exactly the update fee"):
        first(adapter, update(T), value=value)


def test_first_price__among_other_updates__still_the_first_after_t(adapter):
    updates = [update(T, feed=BTC_USD), update(T + 3, T + 2), update(T + 1, T - 2, price=1_990 * 10**8)]
    assert first(adapter, updates) == (ROUND_FILL, 1_990 * WAD, T + 1)
    assert first(adapter, [updates[1], updates[1], updates[2]])[2] == T + 1


def test_first_price__after_expiry__is_void_at_the_expiry(adapter):
    assert first(adapter, update(T + 301, T - 1), expires_at=T + 300) == (ROUND_VOID, 0, T + 300)
    assert first(adapter, update(2**64 - 1, T - 1), expires_at=T + 300) == (ROUND_VOID, 0, T + 300)
    assert first(adapter, update(T + 300, T - 1), expires_at=T + 300)[0] == ROUND_FILL
    assert first(adapter, update(T, T - 1), expires_at=T) == (ROUND_FILL, 2_000 * WAD, T)


@pytest.mark.parametrize(
    "fields",
    [
        {"price": 0},
        {"price": -5},
        {"conf": 20 * 10**8 + 1},  # just over 1% of 2,000
        {"price": -(2**63)},
        {"expo": -37},
        {"expo": 19},
        {"price": 2 * 10**18, "expo": 0},  # 2e18 USD: above MAX_PRICE (1e18 USD)
        {"price": 10**17, "conf": 10**14, "expo": -36},  # 1e-19 USD: 0 as a WAD
    ],
)
def test_first_price__invalid_on_its_own_data__is_void(adapter, fields):
    assert first(adapter, update(T, **fields)) == (ROUND_VOID, 0, T)


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
def test_first_price__at_the_bounds__fills_at_the_exact_wad(adapter, fields, wad):
    assert first(adapter, update(T, **fields))[:2] == (ROUND_FILL, wad)


@pytest.mark.parametrize("times", [(0, 10), (20, 10), (10, 2**64)])
def test_first_price__bad_time_range__reverts(adapter, times):
    with ape.reverts(re.compile("^oracle: (bad time range|time out of range)$")):
        first(adapter, update(T), *times)


def test_price__fresh_stored_price__as_wad_and_stale_or_missing_refused(adapter, pyth, owner, chain):
    with custom_error("14aebe68"):  # PriceFeedNotFound(): nothing stored yet
        adapter.price()
    now = chain.pending_timestamp
    pyth.updatePriceFeeds([update(now - 5, price=2_345_678 * 10**5, expo=-8)], value=1, sender=owner)
    assert adapter.price() == 2_345_678 * WAD // 1_000  # 2,345.678
    chain.mine(timestamp=now + MAX_AGE + 10)
    with custom_error("19abf40e"):  # StalePrice()
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


@pytest.mark.parametrize(
    "args, reason",
    [
        (("zero", ETH_USD, MAX_AGE, MAX_CONFIDENCE), "oracle: pyth is not a contract"),
        (("pyth", b"\0" * 32, MAX_AGE, MAX_CONFIDENCE), "oracle: zero price id"),
        (("pyth", ETH_USD, 0, MAX_CONFIDENCE), "oracle: max age out of bounds"),
        (("pyth", ETH_USD, 2 * 86_400 + 1, MAX_CONFIDENCE), "oracle: max age out of bounds"),
        (("pyth", ETH_USD, MAX_AGE, 0), "oracle: max confidence out of bounds"),
        (("pyth", ETH_USD, MAX_AGE, WAD // 10 + 1), "oracle: max confidence out of bounds"),
    ],
)
def test_deploy__bad_arguments__refused_with_reason(pyth, accounts, project, args, reason):
    target = {"zero": "0x0000000000000000000000000000000000000000", "pyth": pyth.address}[args[0]]
    with pytest.raises(ape.exceptions.ContractLogicError, match=f"^{re.escape(reason)}$"):
        accounts[8].deploy(project.PythOracle, target, *args[1:])
