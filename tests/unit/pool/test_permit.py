"""Mint and LP deposit in one transaction with an EIP-2612 permit on the collateral,
and the wallet code choosing between allowance, permit and approve."""

import ape
import pytest

from inverse import wallet
from inverse.wallet import permit_domain, sign_permit

USDC = 10**6


@pytest.fixture
def lp_seeded(pool, collateral, lp, deadline):
    """The default pool with 100,000 USDC of LP liquidity; the minter has collateral
    but has approved nothing."""
    collateral.mint(lp, 100_000 * USDC, sender=lp)
    collateral.approve(pool, 100_000 * USDC, sender=lp)
    pool.lp_deposit(100_000 * USDC, 0, lp, deadline, sender=lp)
    return pool


def test_mint_with_permit__without_approval__mints_and_uses_the_permit_up(
    lp_seeded, pool, collateral, minter, deadline
):
    collateral.mint(minter, 1_000 * USDC, sender=minter)
    v, r, s = sign_permit(collateral, minter, pool, 1_000 * USDC, deadline)
    expected = pool.preview_mint(1_000 * USDC)

    tx = pool.mint_with_permit(1_000 * USDC, expected, minter, deadline, v, r, s, sender=minter)

    assert tx.return_value == expected == pool.balanceOf(minter)
    assert collateral.balanceOf(minter) == 0
    assert collateral.allowance(minter, pool) == 0
    assert collateral.nonces(minter) == 1


def test_lp_deposit_with_permit__without_approval__deposits(lp_seeded, pool, collateral, lp_token, stranger, deadline):
    collateral.mint(stranger, 5_000 * USDC, sender=stranger)
    v, r, s = sign_permit(collateral, stranger, pool, 5_000 * USDC, deadline)
    expected = pool.preview_lp_deposit(5_000 * USDC)

    tx = pool.lp_deposit_with_permit(5_000 * USDC, expected, stranger, deadline, v, r, s, sender=stranger)

    assert tx.return_value == expected == lp_token.balanceOf(stranger)
    assert collateral.allowance(stranger, pool) == 0


def test_mint_with_permit__signature_submitted_first_by_someone_else__still_mints(
    lp_seeded, pool, collateral, minter, stranger, deadline
):
    collateral.mint(minter, 1_000 * USDC, sender=minter)
    v, r, s = sign_permit(collateral, minter, pool, 1_000 * USDC, deadline)
    # Front-running: the signature, seen in the mempool, is applied directly.
    collateral.permit(minter, pool, 1_000 * USDC, deadline, v, r, s, sender=stranger)

    tx = pool.mint_with_permit(1_000 * USDC, 0, minter, deadline, v, r, s, sender=minter)

    assert tx.return_value == pool.balanceOf(minter) > 0
    assert collateral.allowance(minter, pool) == 0


def test_mint_with_permit__bad_signature_and_no_allowance__reverts(
    lp_seeded, pool, collateral, minter, deadline, unchanged
):
    collateral.mint(minter, 1_000 * USDC, sender=minter)
    v, r, s = sign_permit(collateral, minter, pool, 1 * USDC, deadline)  # signed for less

    with unchanged("pool: permit failed"):
        pool.mint_with_permit(1_000 * USDC, 0, minter, deadline, v, r, s, sender=minter)


def test_mint_with_permit__bad_signature_with_allowance__mints_from_the_allowance(
    lp_seeded, pool, collateral, minter, deadline
):
    collateral.mint(minter, 1_000 * USDC, sender=minter)
    collateral.approve(pool, 1_000 * USDC, sender=minter)

    tx = pool.mint_with_permit(1_000 * USDC, 0, minter, deadline, 27, b"\x01" * 32, b"\x02" * 32, sender=minter)

    assert tx.return_value == pool.balanceOf(minter) > 0
    assert collateral.nonces(minter) == 0


def test_mint_with_permit__deadline_passed__says_so(lp_seeded, pool, collateral, minter, chain, unchanged):
    collateral.mint(minter, 1_000 * USDC, sender=minter)
    past = chain.pending_timestamp - 1
    v, r, s = sign_permit(collateral, minter, pool, 1_000 * USDC, past)

    with unchanged("pool: deadline passed"):
        pool.mint_with_permit(1_000 * USDC, 0, minter, past, v, r, s, sender=minter)


def test_mint_with_permit__while_paused__reverts_and_leaves_the_permit_unused(
    lp_seeded, pool, collateral, guardian, minter, deadline, unchanged
):
    collateral.mint(minter, 1_000 * USDC, sender=minter)
    v, r, s = sign_permit(collateral, minter, pool, 1_000 * USDC, deadline)
    pool.pause(sender=guardian)

    with unchanged("pool: paused"):
        pool.mint_with_permit(1_000 * USDC, 0, minter, deadline, v, r, s, sender=minter)
    assert collateral.nonces(minter) == 0


def test_mint_with_permit__collateral_without_permit__uses_the_allowance(
    create_pool, oracle, owner, lp, minter, chain, project
):
    usdt = owner.deploy(project.MockUsdt)
    pool = create_pool(usdt, oracle, 1)
    deadline = chain.pending_timestamp + 3_600
    for account in (lp, minter):
        usdt.mint(account, 100_000 * USDC, sender=account)
    usdt.approve(pool, 100_000 * USDC, sender=lp)
    pool.lp_deposit(100_000 * USDC, 0, lp, deadline, sender=lp)

    with ape.reverts("pool: permit failed"):
        pool.mint_with_permit(1_000 * USDC, 0, minter, deadline, 27, b"\x01" * 32, b"\x02" * 32, sender=minter)
    usdt.approve(pool, 1_000 * USDC, sender=minter)
    assert pool.mint_with_permit(1_000 * USDC, 0, minter, deadline, 27, b"\x01" * 32, b"\x02" * 32, sender=minter)


def test_permit_domain__reproduces_each_tokens_domain_separator(pool, collateral, lp_token, project, owner):
    for token in (collateral, pool, lp_token):
        domain = permit_domain(token.address)
        assert domain is not None
        assert bytes(domain.separator) == bytes(token.DOMAIN_SEPARATOR())
    assert permit_domain(owner.deploy(project.MockUsdt).address) is None


def test_wallet__pays_by_allowance_then_permit_then_approve(
    lp_seeded, pool, collateral, create_pool, oracle, minter, owner, lp, deadline, project
):
    collateral.mint(minter, 3_000 * USDC, sender=minter)
    collateral.approve(pool, 1_000 * USDC, sender=minter)
    assert wallet.how_to_pay(pool, minter, 1_000 * USDC) == "allowance"
    wallet.mint(pool, minter, 1_000 * USDC)
    assert collateral.nonces(minter) == 0  # the allowance was enough: no signature

    assert wallet.how_to_pay(pool, minter, 1_000 * USDC) == "permit"
    tx = wallet.mint(pool, minter, 1_000 * USDC)
    assert tx.method_called.name == "mint_with_permit"
    assert collateral.nonces(minter) == 1
    assert collateral.allowance(minter, pool) == 0

    usdt = owner.deploy(project.MockUsdt)
    usdt_pool = create_pool(usdt, oracle, 1)
    usdt.mint(minter, 1_000 * USDC, sender=minter)
    assert wallet.how_to_pay(usdt_pool, minter, 1_000 * USDC) == "approve"
    tx = wallet.lp_deposit(usdt_pool, minter, 1_000 * USDC)
    assert tx.method_called.name == "lp_deposit"
