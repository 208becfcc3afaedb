"""The mock Pyth contract against Pyth's own interface: the SDK's selectors, the update
fee, `parsePriceFeedUpdatesUnique`'s proof that a price is the first at or after a time,
and the real refusals (fee too low, none in range, not the first, another feed, a
tampered or foreign signature, stale)."""

import re

import ape
import pytest
from eth_utils import keccak

from inverse.pyth import TEST_SIGNER, UPDATE_BYTES, PriceUpdate

ETH_USD = bytes.fromhex("ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace")
BTC_USD = bytes.fromhex("e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43")
FEE = 1  # wei per update, as on most chains
SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141

# From Pyth's Solidity SDK (IPyth.sol, IPythEvents.sol, PythErrors.sol).
SDK_SELECTORS = {
    "getUpdateFee(bytes[])": "d47eed45",
    "updatePriceFeeds(bytes[])": "ef9e5e28",
    "parsePriceFeedUpdatesUnique(bytes[],bytes32[],uint64,uint64)": "accca7f9",
    "getPriceUnsafe(bytes32)": "96834ad3",
    "getPriceNoOlderThan(bytes32,uint256)": "a4ae35e0",
}
SDK_ERRORS = {
    "PriceFeedNotFoundWithinRange()": "45805f5d",
    "InsufficientFee()": "025dbdd4",
    "InvalidUpdateData()": "e69ffece",
    "StalePrice()": "19abf40e",
    "PriceFeedNotFound()": "14aebe68",
}


def pyth_error(signature: str):
    """`ape.reverts` for one of Pyth's custom errors (ape words a call's and a
    transaction's differently)."""
    return ape.reverts(re.compile(f"^(custom error )?0x{SDK_ERRORS[signature]}$"))


def update(publish_time: int, prev_publish_time: int, price: int = 2_000 * 10**8, feed: bytes = ETH_USD, **fields):
    return PriceUpdate(feed, price, 10**6, -8, publish_time, prev_publish_time, **fields)


@pytest.fixture(scope="module")
def pyth(owner, stranger, project):
    # `stranger` is set up here, before the module's chain snapshot, for ape's isolation.
    return owner.deploy(project.MockPyth, TEST_SIGNER, FEE)


def _signature(abi) -> str:
    def kind(item):
        if item.type.startswith("tuple"):
            return "(" + ",".join(kind(c) for c in item.components) + ")" + item.type[5:]
        return item.type

    return f"{abi.name}({','.join(kind(i) for i in abi.inputs)})"


def test_abi__selectors_and_errors__are_pyths(pyth):
    assert pyth.signer() == TEST_SIGNER
    ours = {_signature(abi): abi.selector for abi in pyth.contract_type.abi if abi.type == "function"}
    for signature, selector in SDK_SELECTORS.items():
        assert keccak(text=signature)[:4].hex() == selector  # the table itself
        assert signature in ours, f"{signature} missing"
    for signature, selector in SDK_ERRORS.items():
        assert keccak(text=signature)[:4].hex() == selector
    # The structs come back as Pyth's: PriceFeed(id, Price price, Price emaPrice).
    [parse] = [abi for abi in pyth.contract_type.abi if getattr(abi, "name", "") == "parsePriceFeedUpdatesUnique"]
    [feeds] = parse.outputs
    assert feeds.type == "tuple[]"
    assert [c.name for c in feeds.components] == ["id", "price", "emaPrice"]
    assert [(c.name, c.type) for c in feeds.components[1].components] == [
        ("price", "int64"),
        ("conf", "uint64"),
        ("expo", "int32"),
        ("publishTime", "uint256"),
    ]


def test_update__encodes_signs_and_decodes_back():
    u = update(1_000, 999, ema_price=1_990 * 10**8, ema_conf=2 * 10**6)
    data = u.sign()
    assert len(data) == UPDATE_BYTES
    assert PriceUpdate.decode(data) == u


def test_get_update_fee__per_update(pyth):
    assert pyth.getUpdateFee([]) == 0
    assert pyth.getUpdateFee([update(1_000, 999).sign(), update(1_001, 1_000).sign()]) == 2 * FEE


def test_parse_unique__the_first_price_at_or_after_min__is_returned(pyth):
    first, second = update(1_000, 999, price=2_000 * 10**8), update(1_001, 1_000, price=2_001 * 10**8)
    data = [first.sign(), second.sign()]

    [feed] = pyth.parsePriceFeedUpdatesUnique.call(data, [ETH_USD], 1_000, 1_010, value=2 * FEE)
    assert (feed.id, feed.price.price, feed.price.publishTime) == (ETH_USD, 2_000 * 10**8, 1_000)
    assert (feed.price.conf, feed.price.expo) == (10**6, -8)
    # From one second later, the second is the first.
    [feed] = pyth.parsePriceFeedUpdatesUnique.call(data, [ETH_USD], 1_001, 1_010, value=2 * FEE)
    assert feed.price.publishTime == 1_001
    # One request, two feeds, in the order asked.
    btc = update(1_000, 998, price=60_000 * 10**8, feed=BTC_USD)
    feeds = pyth.parsePriceFeedUpdatesUnique.call(
        [btc.sign(), first.sign()], [ETH_USD, BTC_USD], 1_000, 1_000, value=2 * FEE
    )
    assert [(f.id, f.price.price) for f in feeds] == [(ETH_USD, 2_000 * 10**8), (BTC_USD, 60_000 * 10**8)]
    # An id asked twice: nothing for the second (as on Pyth), so the call is refused.
    with pyth_error("PriceFeedNotFoundWithinRange()"):
        pyth.parsePriceFeedUpdatesUnique.call(data, [ETH_USD, ETH_USD], 1_000, 1_010, value=2 * FEE)
    # No ids, nothing returned (a caller must check the length, as on Pyth).
    assert pyth.parsePriceFeedUpdatesUnique.call(data, [], 1_000, 1_010, value=2 * FEE) == []


def test_parse_unique__a_later_price_than_the_first__is_refused(pyth):
    later = update(1_005, 1_003)  # the feed published at 1,003, after min: 1,005 is not the first
    with pyth_error("PriceFeedNotFoundWithinRange()"):
        pyth.parsePriceFeedUpdatesUnique.call([later.sign()], [ETH_USD], 1_000, 1_010, value=FEE)


@pytest.mark.parametrize(
    "low, high, reason",
    [(1_001, 1_010, "published before min"), (990, 999, "published after max"), (1_000, 1_010, "another feed")],
)
def test_parse_unique__none_in_range_or_of_the_feed__is_refused(pyth, low, high, reason):
    u = update(1_000, 980, feed=BTC_USD if reason == "another feed" else ETH_USD)
    with pyth_error("PriceFeedNotFoundWithinRange()"):
        pyth.parsePriceFeedUpdatesUnique.call([u.sign()], [ETH_USD], low, high, value=FEE)


def test_parse_unique__fee_below_the_update_fee__is_refused(pyth, owner):
    data = [update(1_000, 999).sign()]
    with pyth_error("InsufficientFee()"):
        pyth.parsePriceFeedUpdatesUnique.call(data, [ETH_USD], 1_000, 1_010, value=0)
    pyth.set_fee(5, sender=owner)
    try:
        with pyth_error("InsufficientFee()"):
            pyth.parsePriceFeedUpdatesUnique.call(data, [ETH_USD], 1_000, 1_010, value=4)
        assert pyth.parsePriceFeedUpdatesUnique.call(data, [ETH_USD], 1_000, 1_010, value=5)
    finally:
        pyth.set_fee(FEE, sender=owner)


def test_set_fee__not_the_deployer__reverts(stranger, pyth):
    with ape.reverts("mock pyth: caller is not the deployer"):
        pyth.set_fee(0, sender=stranger)


@pytest.mark.parametrize(
    "fault", ["price changed", "time changed", "foreign signer", "truncated", "bad v", "mirrored signature"]
)
def test_parse_unique__tampered_or_foreign_update__is_refused(pyth, fault):
    data = bytearray(update(1_000, 999).sign())
    if fault == "price changed":
        data[63] ^= 1  # the price word's last byte
    elif fault == "time changed":
        data[159] ^= 1  # publish_time
    elif fault == "foreign signer":
        data = bytearray(update(1_000, 999).sign(key=keccak(text="not the signer")))
    elif fault == "truncated":
        data = data[:-1]
    elif fault == "mirrored signature":  # (v, r, s) -> (v', r, n - s): the same signer, another encoding
        s_value = int.from_bytes(data[320:352], "big")
        data[320:352] = (SECP256K1_N - s_value).to_bytes(32, "big")
        data[287] = 55 - data[287]
    else:
        data[287] = 29  # v is 27 or 28
    with pyth_error("InvalidUpdateData()"):
        pyth.parsePriceFeedUpdatesUnique.call([bytes(data)], [ETH_USD], 1_000, 1_010, value=FEE)
    # A bad update refuses the whole call, even beside a good one for the feed asked.
    good = update(1_000, 999).sign()
    with pyth_error("InvalidUpdateData()"):
        pyth.parsePriceFeedUpdatesUnique.call([good, bytes(data)], [ETH_USD], 1_000, 1_010, value=2 * FEE)


def test_update_price_feeds__stores_the_newest__and_reads_refuse_stale_or_missing(pyth, owner, chain):
    with pyth_error("PriceFeedNotFound()"):
        pyth.getPriceUnsafe(BTC_USD)
    now = chain.pending_timestamp
    newer, older = update(now - 10, now - 11, price=2_100 * 10**8), update(now - 20, now - 21, price=1_900 * 10**8)
    pyth.updatePriceFeeds([newer.sign()], value=FEE, sender=owner)
    pyth.updatePriceFeeds([older.sign()], value=FEE, sender=owner)  # older: kept out

    assert pyth.getPriceUnsafe(ETH_USD).price == 2_100 * 10**8
    assert pyth.getPriceNoOlderThan(ETH_USD, 60).publishTime == now - 10
    with pyth_error("StalePrice()"):
        pyth.getPriceNoOlderThan(ETH_USD, 5)
    with pyth_error("InsufficientFee()"):
        pyth.updatePriceFeeds([newer.sign()], value=0, sender=owner)
