"""`PullRebalancer.view_after_update`: a pull market's views at a price brought in the
same call, the way the page previews a market whose price on Pyth's contract is too old
(one `eth_call`, the fee's value from a balance override). Sent as a transaction, it
only updates Pyth and keeps nothing."""

import re

import ape
import pytest
from eth_abi import decode, encode
from eth_utils import keccak, to_hex

from inverse.constants import DEFAULT_PULL_MAX_AGE, WAD

from .conftest import USDC, signed

FEE = 1  # wei per update, the mock's (as Pyth's on most chains)
MINT = 1_000 * USDC
# An address that holds nothing: whom the page calls from before a wallet connects.
NOBODY = "0x000000000000000000000000000000000000dEaD"


@pytest.fixture
def stale(pull_pool, chain, frozen_clock):
    """The market's price on-chain (its first proof) older than the oracle's max age;
    every block from here has the same time. Returns that time."""
    now = chain.pending_timestamp + DEFAULT_PULL_MAX_AGE + 1
    chain.mine(timestamp=now)
    return now


def calldata(view, *args) -> bytes:
    """A view's calldata: its selector and arguments."""
    return view.encode_input(*args)


def through(rebalancer, pyth, update: bytes, target, data: bytes, sender, value=FEE) -> bytes:
    return rebalancer.view_after_update.call(pyth, [update], target, data, value=value, sender=sender)


def test_view_after_update__stale_store__the_view_refuses_and_through_it_answers_at_the_update(
    pull_pool, pull_lens, pyth, rebalancer, stranger, stale
):
    with ape.reverts("oracle: stale price"):
        pull_lens.preview_mint(MINT)
    update = signed(stale, 2_300 * 10**8)  # ETH +15% since the market's reference price
    price = through(rebalancer, pyth, update, pull_pool, calldata(pull_pool.oracle_price), stranger)
    assert decode(["uint256"], price) == (2_300 * WAD,)
    answer = through(rebalancer, pyth, update, pull_lens, calldata(pull_lens.preview_mint, MINT), stranger)
    (tokens,) = decode(["uint256"], answer)
    # What the lens answers once that update is in Pyth's store, in the same second (a frozen clock).
    pyth.updatePriceFeeds([update], value=FEE, sender=stranger)
    assert tokens == pull_lens.preview_mint(MINT) > MINT * 10**12  # -1x: the NAV fell, a token costs less


def test_view_after_update__eth_call_from_an_empty_account_with_a_balance_override__answers(
    pull_lens, pyth, rebalancer, stale, chain
):
    """The page's own call: from an address that holds nothing, the fee's value given
    by a state override; nothing is sent, so nothing changes on-chain."""
    update = signed(stale, 2_300 * 10**8)
    selector = keccak(text="view_after_update(address,bytes[],address,bytes)")[:4]
    args = encode(
        ["address", "bytes[]", "address", "bytes"],
        [pyth.address, [update], pull_lens.address, calldata(pull_lens.preview_mint, MINT)],
    )
    call = {"from": NOBODY, "to": rebalancer.address, "data": to_hex(selector + args), "value": hex(FEE)}
    override = {NOBODY: {"balance": hex(FEE)}}
    answer = chain.provider.make_request("eth_call", [call, "latest", override])
    (raw,) = decode(["bytes"], bytes.fromhex(answer.removeprefix("0x")))
    assert decode(["uint256"], raw)[0] > 0
    with ape.reverts("oracle: stale price"):  # nothing was sent: the store is as stale as before
        pull_lens.preview_mint(MINT)


def test_view_after_update__sent_as_a_transaction__updates_pyth_refunds_the_rest_and_holds_nothing(
    pull_pool, pull_lens, pyth, rebalancer, stranger, stale
):
    update = signed(stale, 2_300 * 10**8)
    spare = 10**18
    balance = stranger.balance
    receipt = rebalancer.view_after_update(
        pyth, [update], pull_lens, calldata(pull_lens.preview_mint, MINT), value=FEE + spare, sender=stranger
    )
    assert rebalancer.balance == 0  # the fee went to Pyth, the rest back to the caller
    assert stranger.balance == balance - FEE - receipt.total_fees_paid
    assert pyth.getPriceUnsafe(ape.project.PythOracle.at(pull_pool.oracle()).price_id()).publishTime == stale
    assert pull_pool.oracle_price() == 2_300 * WAD  # the public store moved, as anyone's update moves it
    print(f"view_after_update sent as a transaction: {receipt.gas_used:,} gas")


def test_view_after_update__a_tampered_update__reverts_with_pyths_error(pull_lens, pyth, rebalancer, stranger, stale):
    update = bytearray(signed(stale, 2_300 * 10**8))
    update[63] ^= 1  # the price's last byte: the signature no longer matches
    with ape.reverts(re.compile(r"^(custom error )?0xe69ffece$")):  # Pyth's InvalidUpdateData()
        through(rebalancer, pyth, bytes(update), pull_lens, calldata(pull_lens.preview_mint, MINT), stranger)


def test_view_after_update__fee_not_paid__refused(pull_lens, pyth, rebalancer, stranger, stale):
    update = signed(stale, 2_300 * 10**8)
    with ape.reverts("rebalancer: update fee not paid"):
        through(rebalancer, pyth, update, pull_lens, calldata(pull_lens.preview_mint, MINT), stranger, value=0)


def test_view_after_update__an_update_as_stale_as_the_store__the_views_own_reason(
    pull_lens, pyth, rebalancer, stranger, stale
):
    """An update no fresher than the price on-chain brings nothing: the view still
    refuses, with its own reason, which the page shows."""
    update = signed(stale - DEFAULT_PULL_MAX_AGE - 1, 2_300 * 10**8)
    with ape.reverts("oracle: stale price"):
        through(rebalancer, pyth, update, pull_lens, calldata(pull_lens.preview_mint, MINT), stranger)


@pytest.mark.parametrize("which", ["pyth", "target"])
def test_view_after_update__not_a_contract__refused(pull_lens, pyth, rebalancer, stranger, stale, which):
    update = signed(stale, 2_300 * 10**8)
    args = {"pyth": pyth, "target": pull_lens} | {which: NOBODY}
    with ape.reverts(f"rebalancer: {which} is not a contract"):
        through(rebalancer, args["pyth"], update, args["target"], calldata(pull_lens.preview_mint, MINT), stranger)
