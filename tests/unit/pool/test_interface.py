"""The fixed public interface (SPEC 9) across the pool and its order book, and
the inverse token and LP share as ERC-20s with EIP-2612 permit."""

import ape
import pytest

from inverse.wallet import sign_permit

from ..orders.conftest import USDC, settled

SPEC_NAMES = """
request_mint request_redeem request_lp_deposit request_lp_withdraw request_mint_with_permit
request_lp_deposit_with_permit settle claim order pending_orders
preview_mint preview_redeem preview_lp_deposit preview_lp_withdraw max_mint nav oracle_price rebalance
rebalance_due checkUpkeep performUpkeep reference_price reference_nav last_rebalance leverage total_assets
inverse_value lp_value lp_token collateral oracle min_delay max_wait min_order settle_fee paused is_shutdown
pause unpause shutdown name symbol decimals totalSupply balanceOf transfer transferFrom approve allowance
permit nonces DOMAIN_SEPARATOR
OrderRequested OrderSettled Mint Redeem LpDeposit LpWithdraw Rebalance ParametersUpdated Paused Unpaused
Shutdown Transfer Approval
""".split()


def _names(contract) -> set:
    return {abi.name for abi in contract.contract_type.abi if hasattr(abi, "name")}


def test_abi__pool_book_lens_and_upkeep_have_every_spec_name(order_pool, book, lens, upkeep):
    names = _names(order_pool) | _names(book) | _names(lens) | _names(upkeep)
    assert [name for name in SPEC_NAMES if name not in names] == []
    # Where a wallet looks for them: requests and settlement on the book, the market on the pool,
    # the previews on its lens (`lens()` on the pool), Chainlink Automation's two on the
    # market's upkeep contract.
    assert {"request_mint", "request_redeem", "settle", "order", "pending_orders", "OrderRequested"} <= _names(book)
    assert {"claim", "nav", "lens", "OrderSettled", "Mint", "permit"} <= _names(order_pool)
    assert {"preview_mint", "preview_redeem", "preview_lp_deposit", "preview_lp_withdraw", "max_mint"} <= _names(lens)
    assert lens.pool() == order_pool.address
    assert {"checkUpkeep", "performUpkeep"} <= _names(upkeep)


def test_abi__has_delayed_parameter_changes(order_pool):
    assert {"ParametersQueued", "ParametersUpdated", "parameter_delay", "queue_parameters"} <= _names(order_pool)
    assert "set_parameters" not in _names(order_pool)  # nothing applies at once


def test_abi__oracle_adapter_has_spec_names(oracle):
    assert {"price", "feed", "max_age"} <= _names(oracle)


def test_erc20__approve_transfer_from_and_transfer__move_tokens_and_emit(
    order_seeded, order_pool, minter, redeemer, stranger
):
    tx = order_pool.approve(stranger, 10**18, sender=minter)
    assert tx.return_value is True
    assert tx.events.filter(order_pool.Approval) == [order_pool.Approval(owner=minter, spender=stranger, value=10**18)]
    balance = order_pool.balanceOf(minter)

    tx = order_pool.transferFrom(minter, redeemer, 10**18, sender=stranger)

    assert tx.events.filter(order_pool.Transfer) == [
        order_pool.Transfer(sender=minter, receiver=redeemer, value=10**18)
    ]
    assert order_pool.allowance(minter, stranger) == 0
    assert (order_pool.balanceOf(minter), order_pool.balanceOf(redeemer)) == (balance - 10**18, 10**18)
    with ape.reverts("erc20: insufficient allowance"):
        order_pool.transferFrom(minter, redeemer, 1, sender=stranger)
    with ape.reverts("erc20: transfer amount exceeds balance"):
        order_pool.transfer(stranger, 10**18 + 1, sender=redeemer)
    with ape.reverts("erc20: transfer to the zero address"):
        order_pool.transfer("0x" + "00" * 20, 1, sender=redeemer)


def test_erc20__tokens_in_escrow__cannot_be_moved_by_their_requester(
    order_seeded, order_pool, book, minter, stranger, deadline
):
    shares = order_pool.balanceOf(minter)
    book.request_redeem(shares, 0, minter, deadline, sender=minter)
    assert order_pool.balanceOf(minter) == 0 and order_pool.balanceOf(order_pool) == shares
    with ape.reverts("erc20: transfer amount exceeds balance"):
        order_pool.transfer(stranger, 1, sender=minter)


@pytest.mark.parametrize("which", ["pool", "lp_token"])
def test_permit__signed_off_chain__sets_allowance_without_a_transaction(
    order_seeded, order_pool, order_lp_token, minter, lp, stranger, chain, which
):
    token = order_pool if which == "pool" else order_lp_token
    holder = minter if which == "pool" else lp
    deadline = chain.pending_timestamp + 600
    v, r, s = sign_permit(token, holder, stranger, 10**18, deadline)

    tx = token.permit(holder, stranger, 10**18, deadline, v, r, s, sender=stranger)

    assert token.allowance(holder, stranger) == 10**18
    assert token.nonces(holder) == 1
    assert tx.events.filter(token.Approval) == [token.Approval(owner=holder, spender=stranger, value=10**18)]
    token.transferFrom(holder, stranger, 10**18, sender=stranger)
    assert token.balanceOf(stranger) == 10**18
    with ape.reverts("erc20: invalid signature"):
        token.permit(holder, stranger, 10**18, deadline, v, r, s, sender=stranger)  # replay


def test_eip712_domain__names_each_token_for_wallets(order_pool, order_lp_token, chain):
    for token, name in ((order_pool, "ETH -1x Inverse"), (order_lp_token, "ETH -1x Inverse LP")):
        domain = token.eip712Domain()
        assert (domain[1], domain[2], domain[3], domain[4]) == (name, "1", chain.chain_id, token.address)


def test_permit__expired__reverts(order_seeded, order_pool, minter, stranger, chain):
    past = chain.pending_timestamp - 1
    v, r, s = sign_permit(order_pool, minter, stranger, 10**18, past)
    with ape.reverts("erc20: expired deadline"):
        order_pool.permit(minter, stranger, 10**18, past, v, r, s, sender=stranger)


def test_order_view__through_a_life__unknown_pending_settled(order_seeded, order_pool, book, minter, deadline, settle):
    order_id = book.request_mint(1_000 * USDC, 0, minter, deadline, sender=minter).return_value
    status = book.order(order_id)
    assert status.status == 1 and status.not_before > 0
    assert book.head() == (True, status.not_before, status.phase)
    assert book.order(order_id + 1) == (0, 0, 0) and book.order(0) == (0, 0, 0)
    [log] = settled(settle(), order_pool)
    assert log.order_id == order_id
    assert book.order(order_id) == (2, 0, 0)
    assert book.head() == (False, 0, 0)
