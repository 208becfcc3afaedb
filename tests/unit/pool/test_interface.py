"""The fixed public interface (SPEC 8) and EIP-2612 permit on both tokens."""

import ape
import pytest

from inverse.wallet import sign_permit

SPEC_NAMES = """
mint redeem preview_mint preview_redeem lp_deposit lp_withdraw preview_lp_deposit preview_lp_withdraw
max_mint nav oracle_price rebalance rebalance_due checkUpkeep performUpkeep reference_price reference_nav
last_rebalance leverage total_assets inverse_value lp_value lp_token collateral oracle paused is_shutdown
pause unpause shutdown name symbol decimals totalSupply balanceOf transfer transferFrom approve allowance
permit nonces DOMAIN_SEPARATOR
Mint Redeem LpDeposit LpWithdraw Rebalance ParametersUpdated Paused Unpaused Shutdown Transfer Approval
""".split()


def test_abi__has_every_spec_name(pool):
    names = {abi.name for abi in pool.contract_type.abi if hasattr(abi, "name")}
    assert [name for name in SPEC_NAMES if name not in names] == []


def test_abi__oracle_adapter_has_spec_names(oracle):
    names = {abi.name for abi in oracle.contract_type.abi if hasattr(abi, "name")}
    assert {"price", "feed", "max_age"} <= names


@pytest.mark.parametrize("which", ["pool", "lp_token"])
def test_permit__signed_off_chain__sets_allowance_without_a_transaction(
    seeded, pool, lp_token, minter, lp, stranger, chain, which
):
    token = pool if which == "pool" else lp_token
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
