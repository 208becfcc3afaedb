"""A pull market's shutdown when Pyth publishes nothing provable for a day past its
expiry: the NAV is fixed at the book's fallback price (the first fill of the latest
five-minute window in which an order filled) when that is later than the last
rebalance, not at the last reference, which ignores every move since. And held LP deposits
whose price Pyth published ahead of the chain's clock stay held until the block
catches up, so a request made meanwhile cannot share their round."""

import ape

from inverse.constants import OUTCOME_VOID, PULL_FALLBACK_GRACE, WAD
from inverse.orders import order_from_log

from .conftest import USDC, mine_past, rebalance_now, settle_pull, signed
from .test_pull_settlement import SETTLE_FEE, request_mint, settled

WINDOW = 300  # the fallback's window


def next_window(offset: int = 10) -> int:
    """Moves the chain `offset` seconds into the next five-minute window; returns that time."""
    now = ape.chain.pending_timestamp
    t = now - now % WINDOW + WINDOW + offset
    ape.chain.mine(timestamp=t)
    return t


def mint_filled_at(usd: int, pool, book, minter, keeper, prices, chain, assets: int = 1_000 * USDC):
    """ETH at `usd` from the start of the next window on, and a mint requested and
    settled there: the window's first fill. Returns its `OrderSettled`."""
    prices.set(usd * 10**8, next_window())
    mint = request_mint(book, minter, chain, assets)
    mine_past(mint.not_before)
    [fill] = settled(settle_pull(book, prices, keeper), pool)
    return fill


def shutdown_without_any_price(pool, book, owner, keeper):
    """The owner's shutdown, then nothing Pyth publishes for a day past its expiry:
    settled void without a proof (the fallback). Returns its `OrderSettled`."""
    order = order_from_log(pool.shutdown(sender=owner).events.filter(book.OrderRequested)[0])
    mine_past(order.expires_at + PULL_FALLBACK_GRACE + 1)
    [log] = settled(book.settle([order.as_struct()], [0], sender=keeper), pool)
    assert log.outcome == OUTCOME_VOID and pool.is_shutdown()
    return log


def test_shutdown__no_price_ever_proven__nav_at_the_last_fill_not_the_older_reference(
    seeded, pull_book, minter, owner, keeper, collateral, prices, chain, frozen_clock
):
    """ETH has fallen 10% since the last rebalance and a mint filled there; then Pyth
    goes silent for good. The last reference would fix the -1x NAV at about 1.00 (the
    LPs keep the holders' 10%); the fallback fixes it where the market last traded."""
    reference_nav = seeded.reference_nav()
    fill = mint_filled_at(1_800, seeded, pull_book, minter, keeper, prices, chain, 10_000 * USDC)
    assert fill.price == 1_800 * WAD and pull_book.fallback_price() == (fill.price, fill.round_id)  # (price, its time)

    log = shutdown_without_any_price(seeded, pull_book, owner, keeper)

    assert (log.price, log.round_id) == pull_book.fallback_price()
    assert log.price == 1_800 * WAD and log.nav == fill.nav  # its price and time: the fee accrued to the fill
    assert log.nav > reference_nav * 1_099 // 1_000
    shares, cash = seeded.balanceOf(minter), collateral.balanceOf(minter)
    tx = pull_book.request_redeem(shares, 0, minter, chain.pending_timestamp + 600, sender=minter)
    [redeem] = settled(tx, seeded)
    assert redeem.nav == log.nav and collateral.balanceOf(minter) == cash + redeem.out
    # Minted at the fallback's price, so the 10,000 back less fees (the reference: about 9,080).
    assert redeem.out > 9_950 * USDC


def test_shutdown__no_price_after_a_rebalance_later_than_the_last_fill__nav_at_that_reference(
    seeded, pull_book, pull_pool, rebalancer, minter, owner, keeper, prices, chain, frozen_clock
):
    """A rebalance after the last fill set a newer reference: that stands."""
    mint_filled_at(1_800, seeded, pull_book, minter, keeper, prices, chain, 10_000 * USDC)
    prices.set(1_700 * 10**8, chain.pending_timestamp)
    mine_past(chain.pending_timestamp + 10)
    rebalance_now(rebalancer, pull_pool, prices, keeper)
    assert pull_pool.reference_price() == 1_700 * WAD

    log = shutdown_without_any_price(seeded, pull_book, owner, keeper)

    assert log.price == 0 and log.nav == pull_pool.reference_nav()


def test_shutdown__no_price_ever_proven__the_same_nav_however_the_fills_were_batched(
    seeded, pull_book, minter, owner, keeper, prices, chain, frozen_clock
):
    """The fallback is the first fill of the latest window with one, so a settler
    cannot choose it by settling a window's orders one by one or together; a fill in
    a later window moves it, in the same call or not."""
    prices.set(1_800 * 10**8, next_window())
    first = request_mint(pull_book, minter, chain, 1_000 * USDC)
    prices.set(1_700 * 10**8, first.not_before + 1)
    mine_past(first.not_before + 1)
    second = request_mint(pull_book, minter, chain, 1_000 * USDC)
    mine_past(second.not_before)
    snapshot = chain.snapshot()

    navs = []
    for limit in (1, 20):  # one by one, then both in one call
        chain.restore(snapshot)
        snapshot = chain.snapshot()
        while settle_pull(pull_book, prices, keeper, limit=limit) is not None:
            pass
        navs.append(shutdown_without_any_price(seeded, pull_book, owner, keeper))
    assert navs[0].price == navs[1].price == 1_800 * WAD and navs[0].nav == navs[1].nav

    chain.restore(snapshot)
    prices.set(1_600 * 10**8, next_window())
    third = request_mint(pull_book, minter, chain, 1_000 * USDC)
    mine_past(third.not_before)
    snapshot = chain.snapshot()
    settle_pull(pull_book, prices, keeper)  # the three in one call: two windows
    assert pull_book.fallback_price() == (1_600 * WAD, third.not_before)
    assert shutdown_without_any_price(seeded, pull_book, owner, keeper).price == 1_600 * WAD

    chain.restore(snapshot)
    settle_pull(pull_book, prices, keeper, limit=1)
    settle_pull(pull_book, prices, keeper)  # the second and the third
    assert pull_book.fallback_price() == (1_600 * WAD, third.not_before)


def test_shutdown__its_own_price_not_positive__at_the_fallback(
    seeded, pull_book, minter, owner, keeper, prices, chain, frozen_clock
):
    """A first price that is not positive is no price: the fallback stands in."""
    fill = mint_filled_at(1_800, seeded, pull_book, minter, keeper, prices, chain)
    order = order_from_log(seeded.shutdown(sender=owner).events.filter(pull_book.OrderRequested)[0])
    mine_past(order.not_before)
    update = signed(order.not_before, 0)
    receipt = pull_book.settle([order.as_struct()], [0], [(order.not_before, update)], value=1, sender=keeper)
    [log] = settled(receipt, seeded)
    assert (log.outcome, log.price, log.round_id) == (OUTCOME_VOID, 1_800 * WAD, fill.round_id)


def test_shutdown__no_price_after_a_rebalance_at_the_fallbacks_own_price__nav_at_that_reference(
    seeded, pull_book, pull_pool, rebalancer, minter, owner, keeper, prices, chain, frozen_clock
):
    """A rebalance at the very price of the fallback leaves its reference to stand."""
    mint_filled_at(1_700, seeded, pull_book, minter, keeper, prices, chain, 10_000 * USDC)
    rebalance_now(rebalancer, pull_pool, prices, keeper)  # proves nothing new: the same slot
    assert pull_pool.fee_time() == pull_book.fallback_price()[1]

    log = shutdown_without_any_price(seeded, pull_book, owner, keeper)

    assert log.price == 0 and log.nav == pull_pool.reference_nav()


def test_held_deposit__its_price_published_ahead_of_the_block__stays_held_until_a_mint_of_that_price_settles(
    seeded, pull_book, stranger, minter, keeper, prices, chain, frozen_clock
):
    """Pyth accepts a price published a few seconds ahead of the chain's clock. An LP
    deposit priced by one, alone in the queue, used to be released at once; a mint
    requested a block later, whose slot the same update prices, then paid its fee to
    the deposit too (the deposit-ahead-of-a-visible-mint attack). It stays held until
    the block's time reaches its price's, so the mint settles first."""
    lp_token = ape.project.LpToken.at(seeded.lp_token())
    collateral = ape.project.MockCollateral.at(seeded.collateral())
    cash = collateral.balanceOf(stranger)
    receipt = pull_book.request_lp_deposit(200_000 * USDC, 0, stranger, chain.pending_timestamp + 600, sender=stranger)
    deposit = order_from_log(receipt.events.filter(pull_book.OrderRequested)[0])
    ahead = deposit.not_before + 12  # published 11 s ahead of the block that proves it
    update = signed(ahead, 2_000 * 10**8, prev=deposit.not_before - 1)
    mine_past(deposit.not_before + 1)
    pull_book.settle([deposit.as_struct()], [0], [(deposit.not_before, update)], value=1, sender=keeper)
    assert pull_book.held_deposits()[:2] == (1, deposit.id)  # the block is behind its price

    chain.mine(timestamp=deposit.not_before + 2)
    mint = request_mint(pull_book, minter, chain, 20_000 * USDC)
    assert mint.not_before <= ahead  # the same update is the first price of the mint's slot
    mine_past(ahead)  # the block has caught up with the price
    receipt = pull_book.settle(
        [deposit.as_struct(), mint.as_struct()], [0, 0], [(mint.not_before, update)], value=1, sender=keeper
    )
    logs = settled(receipt, seeded)
    assert [log.order_id for log in logs] == [mint.id, deposit.id] and logs[0].price == logs[1].price

    shares = lp_token.balanceOf(stranger)
    chain.mine(timestamp=ahead + 1)  # not in the second of a rescale
    receipt = pull_book.request_lp_withdraw(shares, 0, stranger, chain.pending_timestamp + 600, sender=stranger)
    withdraw = order_from_log(receipt.events.filter(pull_book.OrderRequested)[0])
    prices.set(2_000 * 10**8, 0)
    mine_past(withdraw.not_before)
    settle_pull(pull_book, prices, keeper)
    profit = collateral.balanceOf(stranger) - cash
    assert lp_token.balanceOf(stranger) == 0
    assert -2 * SETTLE_FEE - 1 <= profit <= 0, f"the attacker made {profit / USDC:.2f} USDC"


def test_fallback__a_held_deposits_fill__counts_whether_handed_back_alone_or_with_a_waiting_order(
    seeded, pull_book, stranger, minter, keeper, prices, chain, frozen_clock
):
    """A held LP deposit's fill counts for the fallback when it is handed back, and
    the same whether the settler hands it back alone or with an order that still
    waits (a settler must not choose the price a void shutdown would take)."""
    next_window()
    receipt = pull_book.request_lp_deposit(1_000 * USDC, 0, stranger, chain.pending_timestamp + 600, sender=stranger)
    deposit = order_from_log(receipt.events.filter(pull_book.OrderRequested)[0])
    ahead = deposit.not_before + 12  # its price published ahead of the block that proves it: held
    update = signed(ahead, 1_900 * 10**8, prev=deposit.not_before - 1)
    mine_past(deposit.not_before + 1)
    pull_book.settle([deposit.as_struct()], [0], [(deposit.not_before, update)], value=1, sender=keeper)
    mine_past(ahead + 1)
    waiting = request_mint(pull_book, minter, chain, 1_000 * USDC)  # its T is after the deposit's round
    assert waiting.not_before > chain.pending_timestamp and pull_book.held_deposits()[0] == 1
    snapshot = chain.snapshot()

    results = []
    for orders in ([deposit], [deposit, waiting]):
        chain.restore(snapshot)
        snapshot = chain.snapshot()
        [log] = settled(pull_book.settle([o.as_struct() for o in orders], [0] * len(orders), sender=keeper), seeded)
        assert log.order_id == deposit.id and pull_book.pending_orders() == 1  # the mint still waits
        results.append(pull_book.fallback_price())
    assert results[0] == results[1] == (1_900 * WAD, ahead)
