"""A local playground for the web page, in one command (`make app`).

Starts its own Anvil, deploys the -1x and -3x markets of `deployments/config.yaml`
(section `local`: pull markets on a mock Pyth) with the deploy code, on a mock USDC
that, as USDC, can block an account (`set_blocked`: a payout to it is then owed and
claimed later),
starts the local price service, seeds each market with 1,000,000 USDC of LP
liquidity and a holder's 100,000 USDC mint, starts the real keeper bot, replays a
few days of hourly prices so the chart has a past, then moves the price every few
seconds (each move an hour of market time: the chain's clock moves with it, so a day
passes in about a minute and the keeper's daily rebalances show; an order settles at
the next move, at the first price after its T). Serves the page and prints its URL,
the node's URL and a funded test account to import into a browser wallet. Ctrl-C
stops everything. `kill -USR1 <pid>` (the pid is printed) stops bringing each new
price to Pyth's contract, and a second one resumes: as on a testnet where nobody
brings one, the price on-chain goes stale, and the page previews at the price
service's latest price instead. `kill -USR2 <pid>` holds the price still (the
chain's clock then runs at yours), and a second one moves it again.

    make app
    ape run playground --round-seconds 3 --history-days 5 --port 8000 --node-port 8545
"""

import logging
import os
import random
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path

import click
import requests
from ape import accounts, chain, networks, project
from ape.logging import logger

from inverse import wallet
from inverse.app import PageServer, check_built, page_config
from inverse.deploy import deploy_plan, load_config, plan_deployment, write_manifest
from inverse.processes import AnvilNode, KeeperBot, PriceServiceProcess, free_port
from inverse.pull import rebalance_would_be_due

USDC = 10**6
START_PRICE = 2_000 * 10**8  # the mock feed's first answer (8 decimals)
HOUR = 3_600
MAX_UINT = 2**256 - 1
# The account the playground funds for the person at the browser (Anvil's dev account 5).
USER_INDEX = 5


class Prices:
    """ETH/USD on the local price service, moved as a seeded random walk (about 3.5%
    a day), an hour of market time a move. Each move also brings the new price to the
    mock Pyth's store (`updatePriceFeeds`), so the page previews against it, unless
    `to_store` is off (then the page reads the price service's)."""

    def __init__(self, service: str, pool, owner, seed: int):
        self.service, self.pool, self.owner = service, pool, owner
        self.rng = random.Random(seed)
        self.price = float(START_PRICE)
        self.clock = chain.blocks.head.timestamp
        self.to_store = True
        self._want_store = True  # what the last SIGUSR1 asked; applied at the next move
        self.holding = False
        self._want_hold = False  # what the last SIGUSR2 asked; applied at the next move

    @property
    def wad(self) -> int:
        return int(self.price) * 10**10

    def publish(self) -> int:
        """The next hour: the chain's clock moves an hour on and the price service
        publishes the new price from then."""
        if self._want_store != self.to_store:
            # Here, between two moves, so that once it says so no price of its is on the way to Pyth's contract.
            self.to_store = self._want_store
            click.echo(
                "Each new price goes to Pyth's contract again."
                if self.to_store
                else "New prices no longer go to Pyth's contract: the page previews at the price service's."
            )
        if self._want_hold != self.holding:
            self.holding = self._want_hold
            click.echo(
                "The price holds still, and the chain's clock runs at yours."
                if self.holding
                else "The price moves again, an hour a move."
            )
        if self.holding:
            chain.provider.make_request("evm_mine", [])  # blocks still come: the keeper acts on them
            return int(self.price)
        self.price *= 1 + self.rng.gauss(0, 0.035 / 24**0.5)
        self.clock = max(self.clock + HOUR, chain.blocks.head.timestamp + 1)
        chain.provider.make_request("anvil_setTime", [self.clock])
        body = {"price": str(Decimal(int(self.price)) / 10**8), "from": self.clock}
        requests.post(f"{self.service}/price", json=body, timeout=10).raise_for_status()
        chain.provider.make_request("evm_mine", [])  # the service publishes up to the chain's now
        if self.to_store:
            wallet.refresh_pull_price(self.pool, self.owner, {"hermes": self.service})
        return int(self.price)

    def toggle_store(self, *_signal) -> None:
        """SIGUSR1: stop bringing each new price to Pyth's contract from the next move on, or resume."""
        self._want_store = not self._want_store

    def toggle_hold(self, *_signal) -> None:
        """SIGUSR2: hold the price still from the next move on (the chain's clock runs at
        the wall's; blocks still come each round), or move it again."""
        self._want_hold = not self._want_hold


def port_or_free(port: int) -> int:
    """`port` if nothing listens there, else any free one (0 for any)."""
    if port:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
                return port
            except OSError:
                pass
    return free_port()


def keeper_done(pools, books, price: int) -> bool:
    """No order is due and no rebalance would be at `price` (WAD): what the keeper had to do, it did."""
    now = chain.blocks.head.timestamp
    for pool, book in zip(pools, books, strict=True):
        pending, not_before, _ = book.head()
        if pending and not_before <= now:
            return False
        params = pool.parameters()
        due = rebalance_would_be_due(
            now, price, pool.last_rebalance(), params.interval, pool.reference_price(), params.threshold
        )
        if due and not pool.is_shutdown():
            return False
    return True


def wait_for_keeper(pools, books, price: int, timeout: float = 90) -> None:
    deadline = nudge = time.monotonic()
    deadline += timeout
    while not keeper_done(pools, books, price):
        if time.monotonic() > deadline:
            raise click.ClickException("the keeper bot did not settle and rebalance in time (see its log)")
        if time.monotonic() - nudge > 1:
            chain.provider.make_request("evm_mine", [])  # Anvil mines only on transactions; the bot acts on blocks
            nudge = time.monotonic()
        time.sleep(0.1)


@click.command()
@click.option("--port", default=8000, show_default=True, help="Port of the page (a free one if taken; 0: any).")
@click.option(
    "--node-port",
    default=8545,
    show_default=True,
    help="Port of Anvil: a wallet's own 'localhost 8545' network (chain 1337) then reaches it (a free one if taken).",
)
@click.option("--round-seconds", default=4.0, show_default=True, help="Seconds between price rounds.")
@click.option("--history-days", default=5, show_default=True, help="Days of hourly prices replayed at start.")
@click.option("--seed", default=11, show_default=True, help="Seed of the price path.")
def cli(port, node_port, round_seconds, history_days, seed):
    """Anvil, the demo markets, the keeper bot, a moving price and the web page, in one command."""
    logger.set_level("ERROR")
    logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    check_built()
    # A `kill` (SIGTERM) stops it as cleanly as Ctrl-C: the keeper and Anvil go with it.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    workdir = Path(tempfile.mkdtemp(prefix="inverse-playground-"))
    node = AnvilNode(workdir)
    node.port = port_or_free(node_port)
    try:
        with node, networks.parse_network_choice(node.network_choice):
            run(node, workdir, port_or_free(port), round_seconds, history_days, seed)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run(node, workdir: Path, port: int, round_seconds: float, history_days: int, seed: int) -> None:
    test_accounts = accounts.test_accounts
    owner, lp, holder, user = test_accounts[0], test_accounts[3], test_accounts[4], test_accounts[USER_INDEX]
    click.echo(f"Anvil at {node.uri}; deploying the markets of deployments/config.yaml (local) ...")
    config = load_config("deployments/config.yaml", "local")
    config["markets"] = [market | {"oracle": "pull"} for market in config["markets"]]
    # USDC's blocklist too, so that a refused payout (owed, then claimed) can be tried on the page.
    usdc = owner.deploy(project.MockBlocklistCollateral, "Mock USD Coin", "USDC", config["collateral_decimals"])
    config["collateral"] = usdc.address
    manifest = deploy_plan(owner, plan_deployment(config, True), "local")
    service = PriceServiceProcess(workdir, node, price=str(Decimal(START_PRICE) / 10**8))
    service.start()
    manifest["hermes"] = service.url  # where the keeper and the CLI fetch updates
    # A request's deadline in market time, which runs an hour a round here: five minutes of yours
    # (the page's and the CLI's, which reads it from the manifest).
    deadline_seconds = int(300 / max(round_seconds, 0.1) + 1) * HOUR
    manifest["request_deadline_seconds"] = deadline_seconds
    manifest_file = workdir / "local.json"
    write_manifest(manifest, manifest_file)
    collateral = project.MockCollateral.at(manifest["contracts"]["collateral"])
    pools = [project.InversePool.at(m["pool"]) for m in manifest["markets"]]
    books = [project.OrderBook.at(m["order_book"]) for m in manifest["markets"]]
    for account, amount in ((lp, 3_000_000), (holder, 300_000), (user, 100_000)):
        collateral.mint(account, amount * USDC, sender=account)
    for book in books:
        collateral.approve(book, MAX_UINT, sender=lp)
        collateral.approve(book, MAX_UINT, sender=holder)
        far = chain.blocks.head.timestamp + 30 * 86_400
        book.request_lp_deposit(1_000_000 * USDC, 0, lp, far, sender=lp)
        book.request_mint(100_000 * USDC, 0, holder, far, sender=holder)

    click.echo("Starting the keeper bot ...")
    env = {"INVERSE_MANIFEST": str(manifest_file), "INVERSE_KEEPER_ALWAYS": "1"}
    bot = KeeperBot(workdir, node, None, account="TEST::2", env=env)
    try:
        bot.start()
        feed = Prices(service.url, pools[0], owner, seed)
        click.echo(f"Replaying {history_days} day{'s' if history_days != 1 else ''} of hourly prices ...")
        for hour in range(max(history_days * 24, 1)):
            feed.publish()
            if hour % 24 == 0:  # the seed orders first, then each daily rebalance
                wait_for_keeper(pools, books, feed.wad)
        wait_for_keeper(pools, books, feed.wad)
        # Each round is an hour: the demo users' 2% bound, so an order is seldom refunded for the move.
        config = page_config(manifest, "local", node.uri, deadline_seconds, slippage_percent=2, faucet=True)
        signal.signal(signal.SIGUSR1, feed.toggle_store)
        signal.signal(signal.SIGUSR2, feed.toggle_hold)
        with PageServer(config, port) as server:
            names = ", ".join(f"{m['symbol']} (-{m['leverage']}x) {m['pool']}" for m in manifest["markets"])
            click.echo(
                f"\nThe playground is up.\n"
                f"  page     {server.url}\n"
                f"  chain    {node.uri} (chain id {manifest['chain_id']}); the page offers to add it to your wallet\n"
                f"  markets  {names}\n"
                f"  account  {user.address} holds 10,000 ETH and 100,000 USDC: import its key into your\n"
                f"           wallet: {user.private_key}\n"
                f"           (one of Anvil's well-known dev keys: never use it anywhere else)\n"
                f"  CLI      .venv/bin/ape run inverse status --network {node.network_choice} "
                f"--manifest {manifest_file} --account TEST::{USER_INDEX}\n"
                f"           (any command: mint 100, orders, ...; the same account as the page's)\n"
                f"A new ETH price every {round_seconds:g} s, each an hour of market time; the keeper bot settles "
                f"orders at the next move and rebalances daily. `kill -USR1 {os.getpid()}` stops bringing each "
                f"price to Pyth's contract (the page then previews at the price service's), and resumes; "
                f"`kill -USR2 {os.getpid()}` holds the price still, and moves it again. Ctrl-C stops everything."
            )
            while True:
                time.sleep(round_seconds)
                if not bot.alive():
                    raise click.ClickException(f"the keeper bot stopped:\n{bot.output()[-2000:]}")
                feed.publish()
    except KeyboardInterrupt:
        click.echo("\nStopped.")
    finally:
        stop_keeper(bot)
        bot.forget()
        service.stop()


def stop_keeper(bot: KeeperBot, grace: float = 3) -> None:
    """Asks the bot to stop, and ends it after `grace` seconds: a playground's keeper has
    nothing to finish (silverback may take its 20 s to shut down)."""
    if bot.alive():
        bot.process.send_signal(signal.SIGINT)
        try:
            bot.process.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            bot.process.kill()
            bot.process.wait()
