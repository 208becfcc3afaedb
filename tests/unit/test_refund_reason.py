"""Why an order got less than it asked, as the CLI says it after the settlement:
the cause read from the order and its `OrderSettled`, and what to do next."""

from types import SimpleNamespace

import pytest

from inverse.constants import (
    ORDER_LP_DEPOSIT,
    ORDER_LP_WITHDRAW,
    ORDER_MINT,
    ORDER_REDEEM,
    OUTCOME_FILLED,
    OUTCOME_PARTIAL,
    OUTCOME_REFUNDED,
    OUTCOME_VOID,
)
from inverse.orders import Order
from inverse.wallet import refund_reason

USDC = 10**6
WAD = 10**18


def order(kind: int, amount: int, min_out: int) -> Order:
    return Order(1, kind, "0x1", "0x1", amount, min_out, 0, 120, 1, WAD // 1_000, USDC // 10, 3_960)


def settled(outcome: int, nav: int = WAD) -> SimpleNamespace:
    return SimpleNamespace(outcome=outcome, nav=nav)


def test_mint_refunded_by_its_bound__says_what_the_nav_gave_and_to_widen_the_bound():
    mint = order(ORDER_MINT, 1_000 * USDC, 999 * WAD)
    why = refund_reason(mint, settled(OUTCOME_REFUNDED, WAD * 101 // 100), 6)
    assert why == (
        "at its price the NAV was 1.010000 per token, so it would have got 989.108911 tokens; your bound was "
        "999.000000: ask again with a wider slippage bound (--slippage 1.5)"
    )


@pytest.mark.parametrize(
    "outcome, says",
    [(OUTCOME_REFUNDED, "room for none of it"), (OUTCOME_PARTIAL, "room for only part of it (the rest came back)")],
)
def test_mint_without_room__says_the_backing_was_full(outcome, says):
    why = refund_reason(order(ORDER_MINT, 1_000 * USDC, 0), settled(outcome), 6)
    assert says in why and "'mint capacity' in status" in why


def test_mint_at_a_zero_nav__says_the_market_takes_no_mints():
    assert "NAV was 0" in refund_reason(order(ORDER_MINT, 1_000 * USDC, 0), settled(OUTCOME_REFUNDED, 0), 6)


def test_redeem_refunded__by_its_bound_or_as_dust():
    why = refund_reason(order(ORDER_REDEEM, 100 * WAD, 99 * USDC), settled(OUTCOME_REFUNDED, WAD * 98 // 100), 6)
    assert "the tokens were worth 98.00 before fees; your bound was 99.00: ask again" in why
    dust = refund_reason(order(ORDER_REDEEM, 10**15, 0), settled(OUTCOME_REFUNDED), 6)
    assert "less than the settle fee: redeem a larger amount" in dust


def test_lp_orders__say_the_bound_or_the_backing_rule():
    assert "fewer LP shares than your bound" in refund_reason(
        order(ORDER_LP_DEPOSIT, 1_000 * USDC, 1), settled(OUTCOME_REFUNDED), 6
    )
    assert "only part of it" in refund_reason(order(ORDER_LP_WITHDRAW, WAD, 0), settled(OUTCOME_PARTIAL), 6)
    assert "backing rule" in refund_reason(order(ORDER_LP_WITHDRAW, WAD, 0), settled(OUTCOME_REFUNDED), 6)


@pytest.mark.parametrize("outcome", [OUTCOME_FILLED, OUTCOME_VOID])
def test_filled_or_void__no_reason_added(outcome):
    assert refund_reason(order(ORDER_MINT, 1_000 * USDC, 999 * WAD), settled(outcome), 6) is None
