"""`read_status` (the CLI's `status`) of a pull market on a clock that moves while it
reads, as the playground's does: each round mines a block an hour on, and the new
price reaches Pyth's contract only in the block after, so at the block between the
price on-chain is stale."""

import ape

from inverse import wallet
from inverse.constants import DEFAULT_PULL_MAX_AGE, WAD
from inverse.status import read_status

from .conftest import signed

HOUR = 3_600


def test_status__the_clock_moves_past_the_max_age_mid_read__every_view_from_the_first_block(
    seeded, pull_book, pull_lens, collateral, pyth, stranger, chain, monkeypatch, frozen_clock
):
    """The playground's CLI line failed with 'oracle: stale price' from the lens: the
    price was read at one block, the lens's views at a later, stale one."""
    pyth.updatePriceFeeds([signed(chain.pending_timestamp, 2_100 * 10**8)], value=1, sender=stranger)
    fresh = chain.blocks.head.number
    lens = wallet.lens

    def lens_after_a_round(pool):
        # The next round lands between two of the status's reads: an hour on, no price yet.
        chain.mine(timestamp=chain.pending_timestamp + HOUR)
        return lens(pool)

    monkeypatch.setattr(wallet, "lens", lens_after_a_round)
    status = read_status(seeded, collateral, pull_book)

    assert HOUR > DEFAULT_PULL_MAX_AGE and chain.blocks.head.number > fresh
    with ape.reverts("oracle: stale price"):
        pull_lens.inverse_value()
    assert (status.block, status.price) == (fresh, 2_100 * WAD)
    assert (status.inverse_value, status.lp_value, status.max_mint) == (
        pull_lens.inverse_value(block_id=fresh),
        pull_lens.lp_value(block_id=fresh),
        pull_lens.max_mint(block_id=fresh),
    )
    assert status.lp_value > 0 and status.max_mint > 0
