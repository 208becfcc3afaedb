import pytest

from inverse.constants import WAD
from tests.conftest import INITIAL_PRICE, model_of, price_wad

USDC = 10**6


def test_mint__at_launch__gives_assets_less_fee_at_nav_one(pool, funded, lp, minter, collateral, deadline):
    pool.lp_deposit(10_000 * USDC, 0, lp, deadline, sender=lp)
    assets = 1_000 * USDC
    fee = assets // 1_000  # 0.1%
    before = collateral.balanceOf(minter)

    pool.mint(assets, 0, minter, deadline, sender=minter)

    assert pool.nav() == WAD
    assert pool.balanceOf(minter) == (assets - fee) * 10**12  # 1 token per USDC
    assert collateral.balanceOf(minter) == before - assets
    assert pool.total_assets() == 11_000 * USDC
    assert collateral.balanceOf(pool) == 11_000 * USDC
    assert pool.inverse_value() == assets - fee
    assert pool.lp_value() == 10_000 * USDC + fee


def test_mint__emits_mint_and_transfer(seeded, pool, minter, redeemer, deadline):
    assets = 500 * USDC
    tx = pool.mint(assets, 0, redeemer, deadline, sender=minter)
    shares = tx.return_value

    assert tx.events.filter(pool.Mint) == [
        pool.Mint(sender=minter, receiver=redeemer, assets=assets, shares=shares, fee=assets // 1_000, nav=WAD)
    ]
    assert tx.events.filter(pool.Transfer) == [pool.Transfer(sender="0x" + "00" * 20, receiver=redeemer, value=shares)]
    assert pool.balanceOf(redeemer) == shares


def test_mint__after_price_move__matches_preview_and_model(seeded, pool, feed, owner, minter, deadline):
    feed.set_answer(INITIAL_PRICE * 95 // 100, sender=owner)
    model = model_of(pool, 6)
    price = price_wad(INITIAL_PRICE * 95 // 100)
    assets = 1_234_567_891
    preview = pool.preview_mint(assets)

    shares = pool.mint(assets, preview, minter, deadline, sender=minter).return_value

    assert shares == preview == model.preview_mint(assets, price)
    assert pool.nav() == model.nav(price) == WAD * 105 // 100


def test_mint__exactly_max_mint__succeeds_and_keeps_backing(seeded, pool, minter, collateral, deadline):
    collateral.mint(minter, 10**9 * USDC, sender=minter)
    collateral.approve(pool, 10**9 * USDC, sender=minter)
    capacity = pool.max_mint()
    assert capacity > 0

    pool.mint(capacity, 0, minter, deadline, sender=minter)

    assert pool.lp_value() * WAD >= pool.min_backing() * pool.inverse_value()
    assert pool.max_mint() <= 2  # what is left is rounding dust


def test_mint__above_max_mint__reverts(seeded, pool, minter, collateral, deadline, unchanged):
    collateral.mint(minter, 10**9 * USDC, sender=minter)
    collateral.approve(pool, 10**9 * USDC, sender=minter)
    with unchanged("pool: exceeds max mint"):
        pool.mint(pool.max_mint() + 1, 0, minter, deadline, sender=minter)


def test_mint__without_lp_liquidity__reverts(pool, funded, minter, deadline, unchanged):
    assert pool.max_mint() == 0
    with unchanged("pool: exceeds max mint"):
        pool.mint(100 * USDC, 0, minter, deadline, sender=minter)


@pytest.mark.parametrize(
    "kwargs, reason",
    [
        ({"assets": 0}, "pool: zero amount"),
        ({"receiver": "0x" + "00" * 20}, "pool: zero receiver"),
        ({"deadline_offset": -1}, "pool: deadline passed"),
        ({"min_shares_out": 10**30}, "pool: slippage"),
        ({"assets": 1}, "pool: zero shares"),
    ],
)
def test_mint__bad_input__reverts_and_changes_nothing(seeded, pool, minter, chain, unchanged, kwargs, reason):
    assets = kwargs.get("assets", 100 * USDC)
    receiver = kwargs.get("receiver", minter.address)
    min_out = kwargs.get("min_shares_out", 0)
    deadline = chain.pending_timestamp + kwargs.get("deadline_offset", 3_600)
    with unchanged(reason):
        pool.mint(assets, min_out, receiver, deadline, sender=minter)


def test_mint__while_paused__reverts(seeded, pool, guardian, minter, deadline, unchanged):
    pool.pause(sender=guardian)
    with unchanged("pool: paused"):
        pool.mint(100 * USDC, 0, minter, deadline, sender=minter)
    assert pool.max_mint() == 0


def test_mint__after_shutdown__reverts(seeded, pool, owner, minter, deadline, unchanged):
    pool.shutdown(sender=owner)
    with unchanged("pool: shut down"):
        pool.mint(100 * USDC, 0, minter, deadline, sender=minter)
    assert pool.max_mint() == 0


def test_mint__without_allowance__reverts(seeded, pool, stranger, collateral, deadline, unchanged):
    collateral.mint(stranger, 100 * USDC, sender=stranger)
    with unchanged("erc20: insufficient allowance"):
        pool.mint(100 * USDC, 0, stranger, deadline, sender=stranger)


def test_mint__with_stale_oracle__reverts_with_oracle_reason(seeded, pool, minter, chain, unchanged):
    chain.mine(deltatime=4_000)
    with unchanged("oracle: stale price"):
        pool.mint(100 * USDC, 0, minter, chain.pending_timestamp + 60, sender=minter)


def test_mint__at_zero_nav__reverts(seeded, pool, feed, owner, minter, deadline, unchanged):
    feed.set_answer(INITIAL_PRICE * 2, sender=owner)  # +100% at -1x: NAV 0
    assert pool.nav() == 0
    assert pool.max_mint() == 0
    assert pool.preview_mint(100 * USDC) == 0
    with unchanged("pool: nav is zero"):
        pool.mint(100 * USDC, 0, minter, deadline, sender=minter)
