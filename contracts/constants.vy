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

# Seconds in a (365-day) year: the management fee is a yearly rate.
YEAR: constant(uint256) = 365 * 86_400

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
MAX_KEEPER_BOUNTY_UNITS: constant(uint256) = 100

# LP value required per unit of inverse value (WAD).
MIN_MIN_BACKING: constant(uint256) = WAD // 10
MAX_MIN_BACKING: constant(uint256) = 5 * WAD

# Rebalance reasons, a bit set: both can hold at once.
REASON_TIME: constant(uint8) = 1
REASON_THRESHOLD: constant(uint8) = 2
