import ape
import pytest

from inverse.constants import (
    MAX_INTERVAL,
    MAX_KEEPER_BOUNTY_UNITS,
    MAX_MANAGEMENT_FEE,
    MAX_MIN_BACKING,
    MAX_THRESHOLD,
    MAX_TRADE_FEE,
    MIN_INTERVAL,
    MIN_MIN_BACKING,
    MIN_THRESHOLD,
    WAD,
)
from inverse.deploy import deploy_instant_pool
from inverse.status import read_parameters
from tests.conftest import INITIAL_PRICE, price_wad

USDC = 10**6
DAY = 86_400


def params_of(pool, **changes):
    return read_parameters(pool) | changes


# ------------------------------------------------------------ pause


@pytest.mark.parametrize("role", ["guardian", "owner"])
def test_pause__by_guardian_or_owner__stops_new_risk(pool, request, role):
    account = request.getfixturevalue(role)
    tx = pool.pause(sender=account)
    assert pool.paused()
    assert tx.events.filter(pool.Paused) == [pool.Paused(account=account)]


def test_pause__by_stranger__reverts(pool, stranger, unchanged):
    with unchanged("pool: caller is not the guardian"):
        pool.pause(sender=stranger)


def test_pause__twice__reverts(pool, guardian, unchanged):
    pool.pause(sender=guardian)
    with unchanged("pool: already paused"):
        pool.pause(sender=guardian)


def test_unpause__by_owner__reopens_mint(seeded, pool, owner, guardian, minter, deadline):
    pool.pause(sender=guardian)
    tx = pool.unpause(sender=owner)
    assert not pool.paused()
    assert tx.events.filter(pool.Unpaused) == [pool.Unpaused(account=owner)]
    pool.mint(USDC, 0, minter, deadline, sender=minter)


def test_unpause__by_guardian__reverts(pool, guardian, unchanged):
    pool.pause(sender=guardian)
    with unchanged("ownable: caller is not the owner"):
        pool.unpause(sender=guardian)


def test_unpause__when_not_paused__reverts(pool, owner, unchanged):
    with unchanged("pool: not paused"):
        pool.unpause(sender=owner)


# ------------------------------------------------------------ shutdown


def test_shutdown__settles_nav_once_then_exits_work_without_oracle(
    seeded, pool, owner, feed, minter, lp, lp_token, collateral, deadline
):
    feed.set_answer(INITIAL_PRICE * 90 // 100, sender=owner)
    settled = pool.nav()
    tx = pool.shutdown(sender=owner)
    assert pool.is_shutdown()
    assert tx.events.filter(pool.Shutdown) == [
        pool.Shutdown(account=owner, price=price_wad(INITIAL_PRICE * 90 // 100), nav=settled)
    ]

    feed.set_reverting(True, sender=owner)  # the oracle dies; exits must not care
    assert pool.nav() == settled
    shares = pool.balanceOf(minter)
    gross = shares * settled // 10**30
    assert pool.redeem(shares, 0, minter, deadline, sender=minter).return_value == gross - -(-gross // 1_000)
    lp_value = pool.lp_value()
    received = pool.lp_withdraw(lp_token.balanceOf(lp), 0, lp, deadline, sender=lp).return_value
    assert lp_value - received <= 1  # all of it: no backing rule after shutdown
    assert pool.total_assets() <= 1
    assert collateral.balanceOf(pool) >= pool.total_assets()


def test_shutdown__with_dead_oracle__settles_at_reference_nav(seeded, pool, owner, feed, chain):
    chain.mine(deltatime=DAY)  # stale
    tx = pool.shutdown(sender=owner)
    assert pool.reference_nav() == pool.nav() == WAD
    assert tx.events.filter(pool.Shutdown)[0].price == 0


def test_shutdown__twice__reverts(pool, owner, unchanged):
    pool.shutdown(sender=owner)
    with unchanged("pool: shut down"):
        pool.shutdown(sender=owner)


def test_shutdown__by_non_owner__reverts(pool, guardian, unchanged):
    with unchanged("ownable: caller is not the owner"):
        pool.shutdown(sender=guardian)


def test_lp_deposit__after_shutdown__reverts(seeded, pool, owner, lp, deadline, unchanged):
    pool.shutdown(sender=owner)
    with unchanged("pool: shut down"):
        pool.lp_deposit(USDC, 0, lp, deadline, sender=lp)


# ------------------------------------------------------------ parameters


def test_set_parameters__within_bounds__updates_and_emits(pool, owner):
    new = params_of(
        pool,
        interval=MAX_INTERVAL,
        threshold=MIN_THRESHOLD,
        mint_fee=MAX_TRADE_FEE,
        redeem_fee=0,
        management_fee=MAX_MANAGEMENT_FEE,
        keeper_bounty=MAX_KEEPER_BOUNTY_UNITS * USDC,
        min_backing=MIN_MIN_BACKING,
    )
    tx = pool.set_parameters(new, sender=owner)
    assert params_of(pool) == new
    assert tx.events.filter(pool.ParametersUpdated) == [pool.ParametersUpdated(**new)]


@pytest.mark.parametrize(
    "change, reason",
    [
        ({"interval": MIN_INTERVAL - 1}, "pool: interval out of bounds"),
        ({"interval": MAX_INTERVAL + 1}, "pool: interval out of bounds"),
        ({"threshold": MIN_THRESHOLD - 1}, "pool: threshold out of bounds"),
        ({"threshold": MAX_THRESHOLD + 1}, "pool: threshold out of bounds"),
        ({"mint_fee": MAX_TRADE_FEE + 1}, "pool: mint fee out of bounds"),
        ({"redeem_fee": MAX_TRADE_FEE + 1}, "pool: redeem fee out of bounds"),
        ({"management_fee": MAX_MANAGEMENT_FEE + 1}, "pool: management fee out of bounds"),
        ({"keeper_bounty": MAX_KEEPER_BOUNTY_UNITS * USDC + 1}, "pool: keeper bounty out of bounds"),
        ({"min_backing": MIN_MIN_BACKING - 1}, "pool: min backing out of bounds"),
        ({"min_backing": MAX_MIN_BACKING + 1}, "pool: min backing out of bounds"),
    ],
)
def test_set_parameters__out_of_bounds__reverts(pool, owner, unchanged, change, reason):
    with unchanged(reason):
        pool.set_parameters(params_of(pool, **change), sender=owner)


@pytest.mark.parametrize("paused", [False, True])
def test_set_parameters__every_bound__survives_the_packed_storage(
    accounts, project, lp_blueprint, oracle, guardian, paused
):
    # 18 decimals: the largest keeper bounty the bounds allow (100 * 1e18). A deployer
    # of its own, as ape caches contract types by address (see the fuzz suite).
    owner = accounts[9]
    collateral = owner.deploy(project.MockCollateral, "Mock DAI", "DAI", 18)
    pool = deploy_instant_pool(
        owner, collateral=collateral, oracle=oracle, leverage=WAD, lp_blueprint=lp_blueprint, guardian=guardian.address
    )
    if paused:
        pool.pause(sender=guardian)
    highest = {
        "interval": MAX_INTERVAL,
        "threshold": MAX_THRESHOLD,
        "mint_fee": MAX_TRADE_FEE,
        "redeem_fee": MAX_TRADE_FEE,
        "management_fee": MAX_MANAGEMENT_FEE,
        "keeper_bounty": MAX_KEEPER_BOUNTY_UNITS * 10**18,
        "min_backing": MAX_MIN_BACKING,
    }
    lowest = {
        "interval": MIN_INTERVAL,
        "threshold": MIN_THRESHOLD,
        "mint_fee": 0,
        "redeem_fee": 0,
        "management_fee": 0,
        "keeper_bounty": 0,
        "min_backing": MIN_MIN_BACKING,
    }
    last_rebalance, reference_price = pool.last_rebalance(), pool.reference_price()
    for params in (highest, lowest, highest):
        pool.set_parameters(params, sender=owner)
        assert read_parameters(pool) == params
        assert (pool.paused(), pool.is_shutdown()) == (paused, False)
        assert (pool.last_rebalance(), pool.reference_price()) == (last_rebalance, reference_price)


def test_set_parameters__by_non_owner__reverts(pool, guardian, unchanged):
    with unchanged("ownable: caller is not the owner"):
        pool.set_parameters(params_of(pool), sender=guardian)


def test_set_parameters__after_shutdown__reverts(pool, owner, unchanged):
    pool.shutdown(sender=owner)
    with unchanged("pool: shut down"):
        pool.set_parameters(params_of(pool), sender=owner)


def test_set_guardian__by_owner__moves_the_pause_key(pool, owner, guardian, stranger):
    tx = pool.set_guardian(stranger, sender=owner)
    assert pool.guardian() == stranger
    assert tx.events.filter(pool.GuardianUpdated) == [
        pool.GuardianUpdated(previous_guardian=guardian, new_guardian=stranger)
    ]
    with ape.reverts("pool: caller is not the guardian"):
        pool.pause(sender=guardian)
    pool.pause(sender=stranger)


def test_set_guardian__by_non_owner__reverts(pool, guardian, stranger, unchanged):
    with unchanged("ownable: caller is not the owner"):
        pool.set_guardian(stranger, sender=guardian)


# ------------------------------------------------------------ ownership


def test_ownership__two_step_transfer(pool, owner, stranger):
    pool.transfer_ownership(stranger, sender=owner)
    assert pool.owner() == owner
    assert pool.pending_owner() == stranger
    pool.accept_ownership(sender=stranger)
    assert pool.owner() == stranger
    with ape.reverts("ownable: caller is not the owner"):
        pool.shutdown(sender=owner)


def test_ownership__accept_by_other__reverts(pool, owner, stranger, guardian):
    pool.transfer_ownership(stranger, sender=owner)
    with ape.reverts("ownable_2step: caller is not the new owner"):
        pool.accept_ownership(sender=guardian)


def test_ownership__cannot_be_renounced(pool):
    assert "renounce_ownership" not in [abi.name for abi in pool.contract_type.mutable_methods]


# ------------------------------------------------------------ construction


@pytest.mark.parametrize("leverage", ["0.49", "5.01"])
def test_constructor__leverage_out_of_bounds__reverts(create_pool, collateral, oracle, leverage):
    with ape.reverts("pool: leverage out of bounds"):
        create_pool(collateral, oracle, leverage)


def test_constructor__bad_parameter__reverts(create_pool, collateral, oracle):
    from inverse.constants import default_parameters

    params = default_parameters(WAD, 6) | {"mint_fee": MAX_TRADE_FEE + 1}
    with ape.reverts("pool: mint fee out of bounds"):
        create_pool(collateral, oracle, 1, params)


def test_constructor__collateral_above_18_decimals__reverts(create_pool, create_collateral, oracle):
    with ape.reverts("pool: collateral decimals above 18"):
        create_pool(create_collateral(24), oracle, 1)


def test_constructor__dead_oracle__reverts_with_its_reason(create_pool, collateral, oracle, feed, owner):
    feed.set_answer(0, sender=owner)
    with ape.reverts("oracle: non-positive price"):
        create_pool(collateral, oracle, 1)


def test_constructor__sets_the_first_reference(pool, chain, collateral, oracle, lp_token):
    assert pool.reference_price() == price_wad(INITIAL_PRICE)
    assert pool.reference_nav() == WAD
    assert pool.leverage() == WAD
    assert pool.collateral() == collateral.address
    assert pool.oracle() == oracle.address
    assert lp_token.pool() == pool.address
    assert (pool.name(), pool.symbol(), pool.decimals()) == ("ETH -1x Inverse", "iETH1", 18)
    assert (lp_token.name(), lp_token.symbol(), lp_token.decimals()) == ("ETH -1x Inverse LP", "lETH1", 18)
    assert pool.total_assets() == pool.totalSupply() == 0
    assert not pool.paused() and not pool.is_shutdown()
