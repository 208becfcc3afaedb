"""The reference model on its own: overflow checks, round finding, and a request to
settlement walk-through whose numbers are worked out by hand."""

import pytest

from inverse.model import (
    ORDER_MINT,
    OUTCOME_FILLED,
    OUTCOME_REFUNDED,
    OUTCOME_VOID,
    ROUND_FILL,
    ROUND_VOID,
    ROUND_WAIT,
    OracleModel,
    Overflow,
    PoolModel,
    Revert,
    keeper_bounty_paid,
    u256,
)

WAD = 10**18
PHASE_1 = 1 << 64
POOL, LP, BOOK, OWNER, ALICE, BOB = (f"0x{i:040x}" for i in range(1, 7))


def oracle_at(t0: int) -> OracleModel:
    oracle = OracleModel(feed_decimals=8, max_age=3_960)
    oracle.push_round(2_000 * 10**8, t0, t0)
    return oracle


def market(t0: int = 1_000) -> PoolModel:
    return PoolModel(
        leverage=WAD,
        collateral_decimals=6,
        oracle=oracle_at(t0),
        pool=POOL,
        lp_token=LP,
        book=BOOK,
        owner=OWNER,
        guardian=OWNER,
        reference_price=2_000 * WAD,
        last_rebalance=t0,
        fee_time=t0,
        interval=86_400,
        threshold=WAD // 10,
        mint_fee=0,
        redeem_fee=0,
        management_fee=0,
        keeper_bounty=10**6,
        min_backing=WAD // 2,
        settle_fee=10**5,
        min_delay=120,
        max_wait=3_960,
        min_order=10 * 10**6,
        collateral={ALICE: 10**12, BOB: 10**12},
    )


def test_u256__outside_uint256__overflow():
    assert u256(2**256 - 1) == 2**256 - 1
    with pytest.raises(Overflow):
        u256(2**256)
    with pytest.raises(Overflow):
        u256(-1)


def test_own_round__held_transmission__next_round_prices():
    oracle = oracle_at(1_000)
    m = market()
    m.oracle = oracle
    order = m.request_mint(ALICE, 100 * 10**6, 0, ALICE, 2_000, 1_100)
    oracle.push_round(2_100 * 10**8, 1_050, 1_300)  # observed before the request
    assert oracle.own_round(order, 1_300) == (ROUND_WAIT, 0, 0)
    oracle.push_round(1_900 * 10**8, 1_310, 1_310)
    assert oracle.own_round(order, 1_310) == (ROUND_FILL, 1_900 * WAD, 1_310)
    assert oracle.order_round(PHASE_1 | 3, 1, order.not_before, 1_100, order.expires_at, 1_400)[0] == ROUND_FILL
    oracle.push_round(1_950 * 10**8, 1_320, 1_320)
    with pytest.raises(Revert, match="not the order's round"):
        oracle.order_round(PHASE_1 | 4, 1, order.not_before, 1_100, order.expires_at, 1_400)


def test_own_round__no_round_by_expiry__void():
    m = market()
    order = m.request_mint(ALICE, 100 * 10**6, 0, ALICE, 2_000, 1_100)
    assert m.oracle.own_round(order, order.expires_at) == (ROUND_WAIT, 0, 0)
    # Void at the last valid round before its own: the phase's last.
    assert m.oracle.own_round(order, order.expires_at + 1) == (ROUND_VOID, 2_000 * WAD, 1_000)


def test_settle__deposit_then_mint__worked_numbers():
    m = market()
    deposit = m.request_lp_deposit(BOB, 1_000 * 10**6, 0, BOB, 2_000, 1_100)
    mint = m.request_mint(ALICE, 100 * 10**6, 0, ALICE, 2_000, 1_101)
    assert (deposit.not_before, mint.not_before, mint.kind) == (1_220, 1_221, ORDER_MINT)
    assert m.escrowed == 2 * 10**5 + 1_100 * 10**6
    m.oracle.push_round(1_800 * 10**8, 1_230, 1_230)  # -10%: a -1x token gains 10%
    [lp_fill, mint_fill] = m.settle(BOB, [deposit, mint], [PHASE_1 | 2] * 2, 1_240)
    # First deposit: 1,000 USDC of LP value at the virtual offset (10**12 shares per unit).
    assert (lp_fill.outcome, lp_fill.out) == (OUTCOME_FILLED, 1_000 * 10**6 * (10**12) // 1)
    assert mint_fill.nav == 11 * WAD // 10
    assert mint_fill.out == 100 * 10**6 * 10**30 // (11 * WAD // 10)
    assert m.total_assets == 1_100 * 10**6 and m.escrowed == 0
    assert m.collateral[BOB] == 10**12 - 1_000 * 10**6 - 10**5 + 2 * 10**5  # both settle fees


def test_settle__void_mint__full_refund_with_settle_fee():
    m = market()
    order = m.request_mint(ALICE, 100 * 10**6, 0, ALICE, 2_000, 1_100)
    [void] = m.settle(BOB, [order], [PHASE_1 | 1], order.expires_at + 1)
    assert (void.outcome, void.refunded, void.settle_fee) == (OUTCOME_VOID, 100 * 10**6, 0)
    assert (void.price, void.nav) == (0, 0)  # the void proof's price fixes only a shutdown
    assert m.collateral[ALICE] == 10**12 and m.collateral[POOL] == 0


def funded_market() -> tuple[PoolModel, int]:
    """1,000 USDC of LP value and a 100 USDC mint, filled at 1,800 (NAV 1.1); returns
    (market, Alice's tokens)."""
    m = market()
    deposit = m.request_lp_deposit(BOB, 1_000 * 10**6, 0, BOB, 2_000, 1_100)
    mint = m.request_mint(ALICE, 100 * 10**6, 0, ALICE, 2_000, 1_101)
    m.oracle.push_round(1_800 * 10**8, 1_230, 1_230)
    m.settle(BOB, [deposit, mint], [PHASE_1 | 2] * 2, 1_240)
    return m, m.balances[ALICE]


def test_settle__void_shutdown__nav_at_last_round_before_its_own_whenever_settled():
    m, _ = funded_market()
    shutdown = m.shutdown(OWNER, 1_300)
    m.oracle.push_round(1_900 * 10**8, 1_350, 1_350)  # before its T (1,420): not its round
    now = m.copy()
    [early] = now.settle(BOB, [shutdown], [PHASE_1 | 3], shutdown.expires_at + 1)
    # Much later, a round after its expiry is its round: void, priced by the one before.
    m.oracle.push_round(1_000 * 10**8, 9_000, 9_000)
    args = (1, shutdown.not_before, 1_300, shutdown.expires_at, 9_500)
    assert m.oracle.order_round(PHASE_1 | 3, *args) == (ROUND_WAIT, 0, 0)  # no longer the last
    [late] = m.settle(ALICE, [shutdown], [PHASE_1 | 4], 9_500)
    # 1,900 is 5% under the reference 2,000: a -1x token's NAV is 1.05.
    assert early.amounts() == late.amounts() == (OUTCOME_VOID, 1_900 * WAD, 105 * WAD // 100, 0, 0, 0, 0)
    assert (m.reference_nav, m.reference_price, m.is_shutdown) == (105 * WAD // 100, 1_900 * WAD, True)


def test_settle__void_shutdown_without_valid_round__reference_nav():
    m, _ = funded_market()
    shutdown = m.shutdown(OWNER, 1_300)
    m.oracle.push_round(0, 1_350, 1_350)  # invalid: no price to fix the NAV at
    [void] = m.settle(BOB, [shutdown], [PHASE_1 | 3], shutdown.expires_at + 1)
    assert (void.outcome, void.price, void.nav) == (OUTCOME_VOID, 0, WAD)
    assert (m.reference_nav, m.reference_price) == (WAD, 2_000 * WAD)


def test_settle__refused_redeem__settler_paid_in_tokens():
    m, shares = funded_market()
    order = m.request_redeem(ALICE, shares, 2**100, ALICE, 2_000, 1_300)
    m.oracle.push_round(1_800 * 10**8, 1_430, 1_430)
    bob_before = m.collateral[BOB]
    [refused] = m.settle(BOB, [order], [PHASE_1 | 3], 1_440)
    # 0.1 USDC at NAV 1.1, rounded up: ceil(1e5 * 1e30 / 1.1e18) tokens.
    fee_shares = 90_909_090_909_090_910
    assert (refused.outcome, refused.refunded, refused.settle_fee) == (OUTCOME_REFUNDED, shares - fee_shares, 10**5)
    assert m.balances[ALICE] == shares - fee_shares and m.balances.get(POOL, 0) == 0
    assert m.total_assets == 1_100 * 10**6 - 10**5
    assert m.collateral[BOB] == bob_before + 10**5


def test_settle__refused_lp_withdraw__settler_paid_in_lp_shares():
    m = market()
    deposit = m.request_lp_deposit(BOB, 1_000 * 10**6, 0, BOB, 2_000, 1_100)
    m.oracle.push_round(2_000 * 10**8, 1_230, 1_230)
    m.settle(BOB, [deposit], [PHASE_1 | 2], 1_240)
    lp_shares = m.lp_balances[BOB]
    order = m.request_lp_withdraw(BOB, lp_shares, 2**100, BOB, 2_000, 1_300)
    m.oracle.push_round(2_000 * 10**8, 1_430, 1_430)
    [refused] = m.settle(ALICE, [order], [PHASE_1 | 3], 1_440)
    # 1e5 * (1e21 + 1e12) / (1e9 + 1) = 1e17 LP shares exactly.
    assert (refused.outcome, refused.refunded, refused.settle_fee) == (OUTCOME_REFUNDED, lp_shares - 10**17, 10**5)
    assert m.lp_balances[BOB] == lp_shares - 10**17 and m.total_assets == 1_000 * 10**6 - 10**5


def test_settle__lp_deposit_past_share_cap__refunded():
    m = market()
    m.collateral[BOB] = 10**30
    # First deposit: 10**12 shares per unit; 2e24 units would make 2e36 > 2**120 shares.
    too_many = m.request_lp_deposit(BOB, 2 * 10**24, 0, BOB, 2_000, 1_100)
    fits = m.request_lp_deposit(BOB, 10**24, 0, BOB, 2_000, 1_101)
    m.oracle.push_round(2_000 * 10**8, 1_230, 1_230)
    [refunded, filled] = m.settle(ALICE, [too_many, fits], [PHASE_1 | 2] * 2, 1_240)
    assert (refunded.outcome, refunded.refunded) == (OUTCOME_REFUNDED, 2 * 10**24)
    assert (filled.outcome, filled.out) == (OUTCOME_FILLED, 10**36)


def test_dead_feed__phase_zero_order__void_at_expiry_only():
    m = market()
    m.oracle.reverting = True
    with pytest.raises(Revert, match="oracle: feed unavailable"):
        m.oracle.latest(1_100)
    order = m.request_mint(ALICE, 100 * 10**6, 0, ALICE, 2_000, 1_100)
    assert order.phase == 0
    m.oracle.reverting = False  # comes back: a phase-0 order still has no round
    m.oracle.push_round(1_900 * 10**8, 1_300, 1_300)
    assert m.oracle.own_round(order, order.expires_at) == (ROUND_WAIT, 0, 0)
    assert m.oracle.order_round(0, 0, order.not_before, 1_100, order.expires_at, order.expires_at)[0] == ROUND_WAIT
    with pytest.raises(Revert, match="round not in the order's phase"):
        m.oracle.order_round(PHASE_1 | 2, 0, order.not_before, 1_100, order.expires_at, order.expires_at + 1)
    assert m.oracle.own_round(order, order.expires_at + 1) == (ROUND_VOID, 0, 0)
    [void] = m.settle(BOB, [order], [0], order.expires_at + 1)
    assert (void.outcome, void.refunded) == (OUTCOME_VOID, 100 * 10**6)


def test_keeper_bounty_paid__budget_used_rounded_up__never_a_second_to_the_keeper():
    """1,000 s of budget pay 23,148 of a 1,000,000 bounty (per 43,200 s), which is
    999.99 s' worth: the whole 1,000 s is booked as used (it kept 1 s before)."""
    bounty, left = keeper_bounty_paid(10**6, 1_000, 2**256, False)
    assert bounty == 10**6 * 1_000 // 43_200 == 23_148
    assert left == 0
