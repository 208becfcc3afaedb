"""The main job: an inverse-token market living through months of ETH prices.

Starts its own Anvil, deploys -1x and -3x markets with the deploy code (mock feed
and stablecoin), seeds LPs, starts the real keeper bot, then replays a seeded
hourly price path with a crash day. Users mint and redeem with the wallet code the
CLI uses; the bot rebalances daily and on the crash. Prints a daily table, writes
a plot of NAV against the naive -L x return (the gap is volatility drag) and ends
by checking solvency: it exits non-zero if anything is off.

    make demo                      # 120 days
    ape run demo --days 10         # a short run
"""

import random
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import click
from ape import accounts, chain, networks, project
from ape.exceptions import ContractLogicError

from inverse import wallet
from inverse.constants import REASON_THRESHOLD, WAD
from inverse.deploy import deploy_plan, leverage_label, load_config, plan_deployment
from inverse.processes import AnvilNode, KeeperBot
from inverse.status import fmt_units

USDC = 10**6
START_PRICE = 2_000 * 10**8  # the mock feed's first answer (8 decimals)


def price_path(days: int, crash_day: int, seed: int) -> list[int]:
    """Hourly feed answers: a random walk with ~3.5% daily volatility, and a 16%
    fall within one hour on the crash day (past both thresholds)."""
    rng = random.Random(seed)
    hourly_vol = 0.035 / 24**0.5
    price, path = float(START_PRICE), []
    for hour in range(days * 24):
        price *= 1 + rng.gauss(0, hourly_vol)
        if hour == crash_day * 24 + 14:
            price *= 0.84
        path.append(int(price))
    return path


class Market:
    def __init__(self, pool, collateral):
        self.pool = pool
        self.collateral = collateral
        self.leverage = pool.leverage()
        self.label = f"-{leverage_label(self.leverage)}x"

    def naive(self, price: int, start: int) -> Decimal:
        """-L x the cumulative return, with no daily reset: what people expect."""
        move = Decimal(price - start) / start
        return 1 - Decimal(self.leverage) / WAD * move


class FastChain:
    """The hourly loop talks to Anvil with plain JSON-RPC (thousands of steps; ape's
    conveniences would make the demo several times slower). Anvil's dev accounts
    are unlocked, so the feed owner needs no local signing here."""

    def __init__(self, feed, owner, markets):
        self.web3 = chain.provider.web3
        self.feed, self.owner = feed.address, owner.address
        self.set_answer = feed.set_answer
        self.due_calls = [(m.pool.address, m.pool.rebalance_due.encode_input()) for m in markets]

    def hourly_answer(self, answer: int) -> None:
        # Move the node's clock (not one block's timestamp): the keeper's own
        # transactions then keep seeing time that only goes forward.
        self.web3.provider.make_request("evm_increaseTime", [3_600])
        data = self.set_answer.encode_input(answer)
        self.web3.eth.send_transaction({"from": self.owner, "to": self.feed, "data": data, "gas": 200_000})

    def any_due(self) -> bool:
        return any(int.from_bytes(self.web3.eth.call({"to": to, "data": data}), "big") for to, data in self.due_calls)


def wait_for_keeper(fast: FastChain, timeout: float = 30) -> None:
    """Wait until the bot has rebalanced every due market."""
    deadline = time.monotonic() + timeout
    while fast.any_due():
        if time.monotonic() > deadline:
            raise click.ClickException("the keeper bot did not rebalance in time")
        time.sleep(0.25)
        # A real chain keeps making blocks; Anvil only mines on transactions.
        fast.web3.provider.make_request("evm_mine", [])


@click.command()
@click.option("--days", default=120, show_default=True, help="Days of prices to replay.")
@click.option("--seed", default=7, show_default=True, help="Seed of the price path and of the users.")
@click.option("--plot", "plot_path", default="out/demo.png", show_default=True, help="Where to write the plot.")
def cli(days, seed, plot_path):
    """Replay a seeded price path through -1x and -3x markets with the keeper bot running."""
    workdir = Path(tempfile.mkdtemp(prefix="inverse-demo-"))
    with AnvilNode(workdir) as node, networks.parse_network_choice(node.network_choice):
        ok = run(node, workdir, days, seed, Path(plot_path))
    sys.exit(0 if ok else 1)


def run(node, workdir: Path, days: int, seed: int, plot_path: Path) -> bool:
    owner, _, keeper, lp, *users = accounts.test_accounts[:8]
    click.echo(f"Anvil at {node.uri}; deploying with deployments/config.yaml (local) ...")
    manifest = deploy_plan(owner, plan_deployment(load_config("deployments/config.yaml", "local"), True), "local")
    feed = project.MockAggregator.at(manifest["contracts"]["feed"])
    collateral = project.MockCollateral.at(manifest["contracts"]["collateral"])
    markets = [Market(project.InstantPool.at(m["pool"]), collateral) for m in manifest["markets"]]

    for account in (lp, *users):
        collateral.mint(account, 10_000_000 * USDC, sender=account)
    for m in markets:
        wallet.lp_deposit(m.pool, lp, 1_000_000 * USDC)
    click.echo("LPs seeded: 1,000,000 USDC in each market. Starting the keeper bot ...")

    bot = KeeperBot(workdir, node, [m.pool.address for m in markets], account="TEST::2")
    bot.start()
    try:
        rows = replay(markets, feed, users, days, seed)
    finally:
        bot.stop()
        bot.forget()
    rebalances = sum(row["rebalances"] for row in rows)
    keeper_earned = collateral.balanceOf(keeper)
    click.echo(f"\nThe keeper bot rebalanced {rebalances} times and earned {fmt_units(keeper_earned, 6)} USDC.")
    plot(rows, markets, plot_path)
    click.echo(f"Plot: {plot_path}")
    return check_solvency(markets, collateral, [lp, *users])


def replay(markets, feed, users, days: int, seed: int) -> list[dict]:
    crash_day = days // 2
    path = price_path(days, crash_day, seed)
    rng = random.Random(seed + 1)
    header = f"{'day':>4} {'ETH':>9}"
    for m in markets:
        header += f" | {m.label + ' NAV':>9} {'naive':>7} {'drag':>7} {'LP value':>12}"
    click.echo("\n" + header + "  rebalances")
    rows = []
    fast = FastChain(feed, accounts.test_accounts[0], markets)
    first_block = chain.blocks.head.number + 1  # each day's events: from here to the day's last block
    for day in range(days):
        for hour in range(24):
            fast.hourly_answer(path[day * 24 + hour])
            wait_for_keeper(fast)
            if hour == 12:
                trade(markets, users, rng)
        last_block = chain.blocks.head.number
        reasons = [e.reason for m in markets for e in m.pool.Rebalance.range(first_block, last_block + 1)]
        first_block = last_block + 1
        day_rebalances = len(reasons)
        threshold_rebalances = sum(1 for reason in reasons if reason & REASON_THRESHOLD)
        row = {
            "day": day + 1,
            "price": path[day * 24 + 23],
            "rebalances": day_rebalances,
            "crash": day == crash_day,
        }
        line = f"{day + 1:>4} {path[day * 24 + 23] / 1e8:>9,.2f}"
        for m in markets:
            nav = Decimal(as_a_user_would(m.pool.nav)) / WAD
            naive = m.naive(path[day * 24 + 23], START_PRICE)
            row[m.label] = (nav, naive)
            line += (
                f" | {nav:>9.4f} {naive:>7.4f} {nav - naive:>+7.4f} {as_a_user_would(m.pool.lp_value) / USDC:>12,.0f}"
            )
        note = f" ({threshold_rebalances} on the threshold)" if threshold_rebalances else ""
        click.echo(line + f"  {day_rebalances}{note}" + ("  <- crash day" if row["crash"] else ""))
        rows.append(row)
    return rows


def trade(markets, users, rng) -> None:
    """Each day some users mint or redeem, through the wallet code."""
    for user in users:
        m = rng.choice(markets)
        balance = m.pool.balanceOf(user)
        if balance and rng.random() < 0.4:
            shares = balance * rng.randint(20, 100) // 100
            as_a_user_would(wallet.redeem, m.pool, user, shares)
        elif rng.random() < 0.6:
            room = as_a_user_would(m.pool.max_mint)
            assets = min(rng.randint(1_000, 50_000) * USDC, room * 9 // 10)
            if assets > USDC:
                as_a_user_would(wallet.mint, m.pool, user, assets)


def as_a_user_would(action, *args):
    """Send (or read) again when a moment ago's view no longer holds, as a wallet
    user would: a quote that moved past its 0.5% slippage bound before it landed,
    or a price just written in a block the node is still sealing ("future
    timestamp": Anvil serving a call between two of the keeper's blocks)."""
    for attempt in range(4):
        try:
            return action(*args)
        except ContractLogicError as error:
            if error.message not in ("pool: slippage", "oracle: future timestamp", "future timestamp") or attempt == 3:
                raise
            click.echo(f"      ({error.message}: quoted again)")
            time.sleep(0.3)


def plot(rows, markets, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path.parent.mkdir(parents=True, exist_ok=True)
    days = [row["day"] for row in rows]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(10, 7), sharex=True, height_ratios=[2, 1])
    for m, color in zip(markets, ("tab:blue", "tab:red"), strict=False):
        top.plot(days, [float(row[m.label][0]) for row in rows], color=color, label=f"ETH {m.label} NAV")
        top.plot(
            days,
            [float(row[m.label][1]) for row in rows],
            color=color,
            linestyle="--",
            label=f"naive {m.label} x cumulative return",
        )
    crash = [row["day"] for row in rows if row["crash"]]
    for ax in (top, bottom):
        for day in crash:
            ax.axvline(day, color="grey", linestyle=":", linewidth=1)
    top.set_ylabel("value of 1 token (USDC)")
    top.set_title("Inverse tokens rebalanced daily vs the naive inverse of the cumulative move")
    top.legend(loc="best", fontsize=8)
    bottom.plot(days, [row["price"] / 1e8 for row in rows], color="black")
    bottom.set_ylabel("ETH / USD")
    bottom.set_xlabel("day (dotted: crash day, intraday threshold rebalance)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def check_solvency(markets, collateral, people) -> bool:
    """The pool holds what it owes; then everyone leaves and gets paid."""
    ok = True
    click.echo("\nSolvency:")
    for m in markets:
        pool = m.pool
        held, assets = collateral.balanceOf(pool), pool.total_assets()
        balanced = pool.inverse_value() + pool.lp_value() == assets
        fine = held >= assets and balanced
        ok &= fine
        click.echo(
            f"  {m.label}: holds {held / USDC:,.2f} USDC for {assets / USDC:,.2f} accounted "
            f"({'ok' if fine else 'BROKEN'})"
        )
        lp_token = project.LpToken.at(pool.lp_token())
        for person in people:
            if shares := pool.balanceOf(person):
                wallet.redeem(pool, person, shares)
        for person in people:
            if shares := lp_token.balanceOf(person):
                wallet.lp_withdraw(pool, person, shares)
        left = pool.total_assets()
        drained = pool.totalSupply() == 0 and lp_token.totalSupply() == 0 and left <= 10
        ok &= drained
        click.echo(f"  {m.label}: everyone exited, {left} wei of collateral left ({'ok' if drained else 'BROKEN'})")
    click.echo("All solvent." if ok else "SOLVENCY CHECK FAILED")
    return ok
