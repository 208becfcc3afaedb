# pragma version 0.4.3
"""
@title Plain snekmate ERC-4626 vault (benchmark anchor only)
@license MIT
@notice snekmate's audited `erc4626` module as is, deployed beside the pool so the
        benchmark can price a mint and a redeem against a standard vault deposit
        and redeem in the same run.
@custom:security None needed: a measuring stick, never deployed for use.
@custom:kill Not needed: a benchmark anchor.
"""

from ethereum.ercs import IERC20
from snekmate.extensions import erc4626

initializes: erc4626

exports: erc4626.__interface__


@deploy
def __init__(asset_: IERC20):
    erc4626.__init__("Bench Vault", "BV", asset_, 0, "Bench Vault", "1")
