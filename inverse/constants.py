"""Mirror of `contracts/constants.vy`: the one Python place for these numbers."""

WAD = 10**18
DAY = 86_400
YEAR = 365 * DAY

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
MAX_KEEPER_BOUNTY_UNITS = 20
BOUNTY_PERIOD = DAY // 2  # keepers' budget fills a bounty every half day
BOUNTY_BUDGET = 3 * BOUNTY_PERIOD  # and holds at most three
BOUNTY_RESERVE = 2 * BOUNTY_PERIOD  # the last two kept for threshold rebalances
MIN_PARAMETER_DELAY = 86_400
MAX_PARAMETER_DELAY = 30 * 86_400
MAX_SETTLE_FEE_UNITS = 5
MIN_MIN_DELAY = 30
MAX_MIN_DELAY = 3_600
MIN_PULL_MIN_DELAY = 1  # a pull market's (SPEC 3b)
MIN_MAX_WAIT = 300
MAX_MAX_WAIT = 2 * 86_400
MAX_MIN_ORDER_UNITS = 10_000

MIN_MIN_BACKING = WAD // 10
MAX_MIN_BACKING = 5 * WAD

REASON_TIME = 1
REASON_THRESHOLD = 2

# Order kinds, settlement outcomes, order status and round outcomes (constants.vy).
ORDER_MINT, ORDER_REDEEM, ORDER_LP_DEPOSIT, ORDER_LP_WITHDRAW, ORDER_SHUTDOWN = 1, 2, 3, 4, 5
ORDER_KINDS = {1: "mint", 2: "redeem", 3: "lp-deposit", 4: "lp-withdraw", 5: "shutdown"}
OUTCOME_FILLED, OUTCOME_PARTIAL, OUTCOME_REFUNDED, OUTCOME_VOID = 1, 2, 3, 4
OUTCOMES = {1: "filled", 2: "partly filled", 3: "refunded", 4: "void (refunded)"}
ORDER_UNKNOWN, ORDER_PENDING, ORDER_SETTLED = 0, 1, 2
ROUND_WAIT, ROUND_FILL, ROUND_VOID = 0, 1, 2
MAX_BATCH = 20
# A market at a NAV of 0 with a supply below this restarts at 1 (constants.vy).
DUST_SUPPLY = 10**12
# The oracle's DEAD_FEED_GRACE: how long after an order's expiry a feed that cannot be
# read at all counts as gone (the order is then void without its round).
DEAD_FEED_GRACE = 86_400
PAYOUT_GAS = 100_000

# Pull markets (SPEC 3b, `PythOracle.vy`): T rounds up to a slot of PULL_SLOT seconds;
# a settle brings at most PULL_MAX_PROOFS slot proofs; a rebalance uses the newest
# proven slot's price while that slot began less than PULL_REBALANCE_WINDOW seconds
# before its block; an order whose slot was not proven by PULL_FALLBACK_GRACE after
# its expiry is void.
PULL_SLOT = 5
PULL_MAX_PROOFS = 4
PULL_REBALANCE_WINDOW = 20
PULL_FALLBACK_GRACE = DAY
PYTH_MAX_UPDATE_BYTES = 4_096

# Defaults (SPEC 6).
DEFAULT_INTERVAL = 86_400
DEFAULT_MINT_FEE = WAD // 1_000
DEFAULT_REDEEM_FEE = WAD // 1_000
DEFAULT_MANAGEMENT_FEE = 2 * WAD // 100
DEFAULT_KEEPER_BOUNTY_UNITS = 1
DEFAULT_MIN_DELAY = 120
DEFAULT_PULL_MIN_DELAY = 5
DEFAULT_PULL_MAX_AGE = 60  # a pull oracle's: the oldest price a rebalance may use
DEFAULT_MAX_CONFIDENCE = WAD // 100  # a pull price's confidence interval: at most 1%
DEFAULT_MIN_ORDER_UNITS = 10
DEFAULT_SEQUENCER_GRACE = 3_600
DEFAULT_PARAMETER_DELAY = 3 * 86_400


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


def default_order_parameters(leverage: int, collateral_decimals: int, max_age: int = 3_960, pull: bool = False) -> dict:
    """The SPEC 7 defaults for a market that settles orders at the next price
    (`InversePool`): the above plus the order parameters. `max_wait` defaults
    to the oracle's max_age (heartbeat + 10%), at least its lower bound; a pull
    market (`pull`) waits 5 s for its price."""
    return default_parameters(leverage, collateral_decimals) | {
        "settle_fee": 10**collateral_decimals // 10,
        "min_delay": DEFAULT_PULL_MIN_DELAY if pull else DEFAULT_MIN_DELAY,
        "max_wait": max(max_age, MIN_MAX_WAIT),
        "min_order": DEFAULT_MIN_ORDER_UNITS * 10**collateral_decimals,
    }


def parameter_bounds(leverage: int, collateral_decimals: int, pull: bool = False) -> tuple[dict, dict]:
    """The lowest and the highest value `queue_parameters` accepts for each order
    parameter of a market (the threshold also stays within 0.5 / L; `pull`: a
    pull market's min_delay goes down to 1 s)."""
    unit = 10**collateral_decimals
    lowest = dict.fromkeys(ORDER_PARAMETER_NAMES, 0) | {
        "interval": MIN_INTERVAL,
        "threshold": MIN_THRESHOLD,
        "min_backing": MIN_MIN_BACKING,
        "min_delay": MIN_PULL_MIN_DELAY if pull else MIN_MIN_DELAY,
        "max_wait": MIN_MAX_WAIT,
    }
    highest = {
        "interval": MAX_INTERVAL,
        "threshold": min(MAX_THRESHOLD, WAD * WAD // 2 // leverage),
        "mint_fee": MAX_TRADE_FEE,
        "redeem_fee": MAX_TRADE_FEE,
        "management_fee": MAX_MANAGEMENT_FEE,
        "keeper_bounty": MAX_KEEPER_BOUNTY_UNITS * unit,
        "min_backing": MAX_MIN_BACKING,
        "settle_fee": MAX_SETTLE_FEE_UNITS * unit,
        "min_delay": MAX_MIN_DELAY,
        "max_wait": MAX_MAX_WAIT,
        "min_order": MAX_MIN_ORDER_UNITS * unit,
    }
    return lowest, highest


PARAMETER_NAMES = (
    "interval",
    "threshold",
    "mint_fee",
    "redeem_fee",
    "management_fee",
    "keeper_bounty",
    "min_backing",
)
ORDER_PARAMETER_NAMES = PARAMETER_NAMES + ("settle_fee", "min_delay", "max_wait", "min_order")
