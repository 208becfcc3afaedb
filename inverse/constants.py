"""Mirror of `contracts/constants.vy`: the one Python place for these numbers."""

WAD = 10**18
YEAR = 365 * 86_400

MAX_COLLATERAL_DECIMALS = 18

MAX_PRICE = 10**36

MIN_LEVERAGE = WAD // 2
MAX_LEVERAGE = 5 * WAD

MIN_INTERVAL = 3_600
MAX_INTERVAL = 7 * 86_400

MIN_THRESHOLD = WAD // 100
MAX_THRESHOLD = WAD // 2

MAX_TRADE_FEE = WAD // 100
MAX_MANAGEMENT_FEE = WAD // 10
MAX_KEEPER_BOUNTY_UNITS = 100

MIN_MIN_BACKING = WAD // 10
MAX_MIN_BACKING = 5 * WAD

REASON_TIME = 1
REASON_THRESHOLD = 2

# Defaults (SPEC 6).
DEFAULT_INTERVAL = 86_400
DEFAULT_MINT_FEE = WAD // 1_000
DEFAULT_REDEEM_FEE = WAD // 1_000
DEFAULT_MANAGEMENT_FEE = 2 * WAD // 100
DEFAULT_KEEPER_BOUNTY_UNITS = 1
DEFAULT_SEQUENCER_GRACE = 3_600


def default_threshold(leverage: int) -> int:
    """Rebalance when effective leverage L(1+r)/(1-Lr) has drifted 33% above L:
    r = 0.33 / (1 + 1.33 L). 14.2% for -1x, 6.7% for -3x. `leverage` is a WAD."""
    return 33 * WAD * WAD // (100 * WAD + 133 * leverage)


def default_min_backing(leverage: int) -> int:
    """0.5 * L: LPs must hold half the inverse value per unit of leverage."""
    return leverage // 2


def default_parameters(leverage: int, collateral_decimals: int) -> dict:
    """The SPEC 6 defaults for a market, as the pool's `Parameters` struct."""
    return {
        "interval": DEFAULT_INTERVAL,
        "threshold": default_threshold(leverage),
        "mint_fee": DEFAULT_MINT_FEE,
        "redeem_fee": DEFAULT_REDEEM_FEE,
        "management_fee": DEFAULT_MANAGEMENT_FEE,
        "keeper_bounty": DEFAULT_KEEPER_BOUNTY_UNITS * 10**collateral_decimals,
        "min_backing": default_min_backing(leverage),
    }


PARAMETER_NAMES = (
    "interval",
    "threshold",
    "mint_fee",
    "redeem_fee",
    "management_fee",
    "keeper_bounty",
    "min_backing",
)
