"""A feed that reverts for a while after a shutdown's round came in time: the NAV it
fixes must not depend on when it is settled (SPEC 3: "whoever settles, and whenever,
the amounts are the same"; void only when no round of its phase came by T + max_wait)."""

import ape

from inverse.constants import OUTCOME_FILLED
from tests.conftest import publish_round, settle_orders

from .conftest import latest_round_id, market_at, requested, round_data, settled, wad


def test_outage__shutdown_whose_round_came__not_void_during_outage_same_nav_after(
    order_seeded, order_pool, book, owner, keeper, stranger, feed, chain, order_lp_token
):
    order = requested(order_pool.shutdown(sender=owner), book)
    publish_round(feed, owner, chain, 1_900 * 10**8, after=order.not_before + 5)  # in time
    its_round = latest_round_id(feed)
    m = market_at(order_pool, order_lp_token, wad(1_900 * 10**8), round_data(feed, its_round)[2])
    feed.set_reverting(True, sender=owner)
    chain.mine(timestamp=order.expires_at + 60)

    # The phase start would prove "no round came" if a failing read passed for a
    # missing round: the shutdown would then fix the NAV at the reference NAV.
    with ape.reverts("orders: order not due"):
        book.settle([order.as_struct()], [order.phase << 64], sender=stranger)
    assert not order_pool.is_shutdown()

    feed.set_reverting(False, sender=owner)
    [log] = settled(settle_orders(book, feed, keeper, chain), order_pool)

    assert (log.outcome, log.round_id, log.price, log.nav) == (OUTCOME_FILLED, its_round, wad(1_900 * 10**8), m.nav)
    assert order_pool.is_shutdown() and order_pool.reference_nav() == m.nav
