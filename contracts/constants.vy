# pragma version 0.4.3
"""
@title Shared constants and parameter bounds
@license MIT
@notice One place for the fixed-point base and for every bound the pool enforces
        on-chain. The Python side mirrors these in `inverse/constants.py`.
@custom:security Constants only: no state, no functions.
@custom:kill Nothing to stop: a module compiled into the pool, never deployed alone.
"""

# 1.0 in 18-decimal fixed point: prices, NAV, leverage, fees and rates.
WAD: constant(uint256) = 10**18

# Seconds in a day and in a (365-day) year: the management fee is a yearly rate.
DAY: constant(uint256) = 86_400
YEAR: constant(uint256) = 365 * DAY

# Collateral with more decimals than the inverse token cannot be priced exactly.
MAX_COLLATERAL_DECIMALS: constant(uint8) = 18

# Largest price (WAD) an oracle may report: 1e18 per unit of the underlying. Far
# above any real market, and it keeps prices within the pool's 128-bit field.
MAX_PRICE: constant(uint256) = 10**36

# Leverage L (WAD), fixed at deployment.
MIN_LEVERAGE: constant(uint256) = WAD // 2
MAX_LEVERAGE: constant(uint256) = 5 * WAD

# Time between scheduled rebalances.
MIN_INTERVAL: constant(uint256) = 3_600
MAX_INTERVAL: constant(uint256) = 7 * 86_400

# Price move |P - P0| / P0 (WAD) that makes an intraday rebalance due.
MIN_THRESHOLD: constant(uint256) = WAD // 100
MAX_THRESHOLD: constant(uint256) = WAD // 2

# Mint and redeem fees (WAD fraction of the amount).
MAX_TRADE_FEE: constant(uint256) = WAD // 100

# Management fee (WAD fraction a year), paid by holders to LPs.
MAX_MANAGEMENT_FEE: constant(uint256) = WAD // 10

# Keeper bounty, in whole collateral units.
MAX_KEEPER_BOUNTY_UNITS: constant(uint256) = 20

# Keepers' budget (seconds of accrual): a bounty's worth fills every BOUNTY_PERIOD
# and it holds at most three, so LPs pay at most two bounties a day, plus three
# saved. A rebalance due by time alone leaves the last two (the reserve, full at
# deployment) to a crash's threshold rebalances, which are then paid in full.
BOUNTY_PERIOD: constant(uint256) = DAY // 2
BOUNTY_BUDGET: constant(uint256) = 3 * BOUNTY_PERIOD
BOUNTY_RESERVE: constant(uint256) = 2 * BOUNTY_PERIOD

# Seconds a queued parameter change waits before a rebalance may apply it.
MIN_PARAMETER_DELAY: constant(uint256) = 86_400
MAX_PARAMETER_DELAY: constant(uint256) = 30 * 86_400

# Settle fee per order, in whole collateral units.
MAX_SETTLE_FEE_UNITS: constant(uint256) = 5

# Seconds from a request to the earliest round that may price it.
MIN_MIN_DELAY: constant(uint256) = 30
MAX_MIN_DELAY: constant(uint256) = 3_600
# On a pull market (SPEC 3b) prices tick every second: at least one second, so no
# price from a request's own second can price it.
MIN_PULL_MIN_DELAY: constant(uint256) = 1

# Seconds after an order's earliest time before it is void without a round.
MIN_MAX_WAIT: constant(uint256) = 300
MAX_MAX_WAIT: constant(uint256) = 2 * 86_400

# Smallest order, in whole collateral units.
MAX_MIN_ORDER_UNITS: constant(uint256) = 10_000

# LP value required per unit of inverse value (WAD).
MIN_MIN_BACKING: constant(uint256) = WAD // 10
MAX_MIN_BACKING: constant(uint256) = 5 * WAD

# Rebalance reasons, a bit set: both can hold at once.
REASON_TIME: constant(uint8) = 1
REASON_THRESHOLD: constant(uint8) = 2

# Order kinds (`Order.kind`).
ORDER_MINT: constant(uint256) = 1
ORDER_REDEEM: constant(uint256) = 2
ORDER_LP_DEPOSIT: constant(uint256) = 3
ORDER_LP_WITHDRAW: constant(uint256) = 4
ORDER_SHUTDOWN: constant(uint256) = 5

# Settlement outcomes (`OrderSettled.outcome`).
# Filled whole.
OUTCOME_FILLED: constant(uint256) = 1
# Filled as far as the backing allows; the rest refunded.
OUTCOME_PARTIAL: constant(uint256) = 2
# Nothing filled: slippage bound broken, nothing fits, or shut down; input refunded.
OUTCOME_REFUNDED: constant(uint256) = 3
# Its round is invalid, or none came in time: everything refunded, settle fee included.
OUTCOME_VOID: constant(uint256) = 4

# `order(order_id).status`.
ORDER_UNKNOWN: constant(uint256) = 0
ORDER_PENDING: constant(uint256) = 1
ORDER_SETTLED: constant(uint256) = 2

# `IOracle.order_round` outcomes.
ROUND_WAIT: constant(uint8) = 0
ROUND_FILL: constant(uint8) = 1
ROUND_VOID: constant(uint8) = 2

# Most orders one `settle` call takes.
MAX_BATCH: constant(uint256) = 20

# A market at a NAV of 0 whose supply is below this (a millionth of a token: worth
# under a millionth of a collateral unit at a NAV of 1) restarts at 1 as if nobody
# held: dust cannot keep a dead market from restarting.
DUST_SUPPLY: constant(uint256) = 10**12

# Gas handed to each collateral transfer out of settlement. A settler must send
# enough for it, so the gas sent can never turn a payout into a `claimable` credit.
PAYOUT_GAS: constant(uint256) = 100_000

# Pyth update data (`IPyth.vyi`): one feed's update is about 1.3 kB (a Merkle proof
# into a signed root); a call carries at most a few, for a few feeds.
PYTH_MAX_UPDATE_BYTES: constant(uint256) = 4_096
PYTH_MAX_UPDATES: constant(uint256) = 4
PYTH_MAX_PRICE_IDS: constant(uint256) = 4

# Pull markets: an order's T is rounded up to a multiple of PULL_SLOT seconds, so
# the orders of one slot share one proven price (one update, one fee).
PULL_SLOT: constant(uint256) = 5
# Most slot proofs one call brings.
PULL_MAX_PROOFS: constant(uint256) = 4
# A rebalance uses the newest valid proven slot's price while that slot began
# less than this many seconds before its block: a proof made for the head's slot
# still serves a transaction mined in the next 12-second block (not one a missed
# slot later: the keeper then proves again). Longer would let a late rebalancer
# pick among more past prices (a test measures what that is worth).
PULL_REBALANCE_WINDOW: constant(uint256) = 20
# After an order's expiry, how long a proof of its price may still come before
# it is void without one, whoever settles (the fallback when no pull price can be
# had at all): a day, as long as Wormhole keeps accepting a rotated guardian set's
# signatures, and ample time for any keeper or LP to bring the proof first.
PULL_FALLBACK_GRACE: constant(uint256) = DAY
