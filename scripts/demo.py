"""The main job: an inverse-token market living through months of ETH prices.

Starts its own Anvil, deploys -1x and -3x markets with the deploy code (a mock Pyth
and stablecoin), starts the local price service and the real keeper bot, seeds LPs,
then replays a seeded hourly price path with a crash day. Every flow is an order:
users request mints, redeems and LP moves on each market's order book, and the bot
settles each one at the first Pyth price at or after its T, seconds later, then
rebalances daily and on the crash. Prints a daily table, writes a plot of NAV
against the naive -L x return (the gap is volatility drag) and ends by checking
solvency, that every order was settled or refunded, and that everyone can exit: it
exits non-zero if anything is off. `--oracle push` runs the same on Chainlink-style
markets (a mock feed with hourly rounds: orders wait for the next round).
`--prices FILE.csv` replays a real price history instead (`inverse.history`).

    make demo                                  # 120 days
    ape run demo --days 10                     # a short run
    ape run demo --prices eth-usd.csv          # a history of your own
"""

import logging
import random
import sys
import tempfile
import time
import warnings
from decimal import Decimal
from pathlib import Path

import click
import requests
from ape import accounts, chain, networks, project
from ape.logging import logger
from eth_abi import decode, encode
from eth_utils import keccak

from inverse.constants import OUTCOME_REFUNDED, OUTCOME_VOID, REASON_THRESHOLD, WAD
from inverse.deploy import deploy_plan, leverage_label, load_config, plan_deployment, write_manifest
from inverse.history import History, HistoryError, read_history
from inverse.price_service import ETH_USD
from inverse.processes import AnvilNode, KeeperBot, PriceServiceProcess
from inverse.pull import rebalance_would_be_due
from inverse.status import fmt_units

USDC = 10**6
START_PRICE = 2_000 * 10**8  # the mock feed's first answer (8 decimals)
SLIPPAGE = Decimal("0.02")  # users accept 2% worse than the preview at their request
TRADE_HOUR = 13  # users act once a day; their orders settle at the next hourly round
MAX_UINT = 2**256 - 1
NUDGE_AFTER = 0.25  # seconds the keeper bot may sit on due work before a new block wakes it


def price_path(days: int, crash_day: int, seed: int) -> list[int]:
    """Hourly feed answers: a random walk with ~3.5% daily volatility, and a 16%
    fall within one hour on the crash day (past both thresholds)."""
    rng = random.Random(seed)
    hourly_vol = 0.035 / 24**0.5
    price, path = float(START_PRICE), []
    for hour in range(days * 24):
        price *= 1 + rng.gauss(0, hourly_vol)
        if hour == crash_day * 24 + TRADE_HOUR + 1:
            price *= 0.84
        path.append(int(price))
    return path


def topic(event_abi) -> bytes:
    return keccak(text=event_abi.selector)


class Node:
    """The hourly loop talks to Anvil with bare JSON-RPC (thousands of steps; web3
    fills every transaction with several round trips first). Anvil's dev accounts
    are unlocked, so users send without local signing here."""

    def __init__(self):
        self.provider = chain.provider.web3.provider

    def rpc(self, method: str, params=()):
        response = self.provider.make_request(method, list(params))
        if "error" in response:
            raise click.ClickException(f"{method}: {response['error'].get('message', response['error'])}")
        return response["result"]

    def call(self, to: str, signature: str, args=(), types=("uint256",)):
        return self.calls([(to, signature, args, types)])[0]

    def calls(self, calls: list[tuple], block: int | None = None) -> list:
        """Several views in one round trip: (to, signature, args, types) each, read
        at `block` (default latest)."""
        at = "latest" if block is None else hex(block)
        requests = [("eth_call", [{"to": to, "data": calldata(sig, args)}, at]) for to, sig, args, _ in calls]
        if len(requests) == 1:
            responses = [self.provider.make_request(*requests[0])]
        else:
            responses = self.provider.make_batch_request(requests)
            if not isinstance(responses, list):  # the node refused the whole batch
                raise click.ClickException(f"eth_call batch: {responses.get('error', responses)}")
        results = []
        for (to, sig, _, types), response in zip(calls, responses, strict=True):
            if "error" in response:
                raise click.ClickException(f"{sig} at {to}: {response['error'].get('message', response['error'])}")
            values = decode(list(types), bytes.fromhex(response["result"][2:]))
            results.append(values[0] if len(types) == 1 else values)
        return results

    def send(self, sender: str, to: str, signature: str, args=(), gas: int | None = None, value: int = 0) -> int:
        """Send and return once it is mined (its block number): a transaction left
        in Anvil's pool would be mined after the clock moved on, an hour late. A
        revert raises with its reason."""
        txn = {"from": sender, "to": to, "data": calldata(signature, args), "value": hex(value)}
        if gas:
            txn["gas"] = hex(gas)
        receipt = self.rpc("eth_sendTransactionSync", [txn])
        if int(receipt["status"], 16) != 1:
            # The same call on the block before says why.
            replay = self.provider.make_request("eth_call", [txn, hex(int(receipt["blockNumber"], 16) - 1)])
            reason = replay.get("error", {}).get("message", "execution reverted")
            raise click.ClickException(f"{signature.split('(')[0]} from {sender}: {reason}")
        return int(receipt["blockNumber"], 16)

    @property
    def block(self) -> int:
        return int(self.rpc("eth_blockNumber"), 16)

    def timestamp(self, block: int) -> int:
        return int(self.rpc("eth_getBlockByNumber", [hex(block), False])["timestamp"], 16)


def calldata(signature: str, args) -> str:
    inputs = [t for t in signature[signature.index("(") + 1 : -1].split(",") if t]
    return "0x" + (keccak(text=signature)[:4] + encode(inputs, list(args))).hex()


class Market:
    def __init__(self, node: Node, entry: dict):
        self.node = node
        self.pool = entry["pool"]
        self.book = entry["order_book"]
        self.lp_token = entry["lp_token"]
        self.lens = entry["lens"]
        self.leverage = node.call(self.pool, "leverage()")
        self.label = f"-{leverage_label(self.leverage)}x"
        self.min_order = node.call(self.book, "min_order()")
        parameters = node.call(self.pool, "parameters()", types=("uint256",) * 11)
        self.interval, self.threshold = parameters[0], parameters[1]

    def naive(self, price: int, start: int) -> Decimal:
        """-L x the cumulative return, with no daily reset: what people expect."""
        move = Decimal(price - start) / start
        return 1 - Decimal(self.leverage) / WAD * move

    def view(self, name: str, *args, types=("uint256",)):
        signature = f"{name}({','.join('address' if isinstance(a, str) else 'uint256' for a in args)})"
        return self.node.call(self.pool, signature, args, types)

    def preview(self, name: str, *args):
        """A view of the market's lens (`preview_mint`, `max_mint`, ...)."""
        return self.node.call(self.lens, f"{name}({','.join('uint256' for _ in args)})", args, ("uint256",))

    def request(self, user: str, kind: str, amount: int, min_out: int, receiver: str | None = None) -> None:
        far = 2**64
        self.node.send(
            user,
            self.book,
            f"request_{kind}(uint256,uint256,address,uint256)",
            (amount, min_out, receiver or user, far),
        )

    def balance(self, token: str, holder: str) -> int:
        return self.node.call(token, "balanceOf(address)", (holder,))


class Ledger:
    """Every order requested and settled, read from the events day by day."""

    def __init__(self, markets: list[Market]):
        self.markets = markets
        self.node = markets[0].node
        self.requested_topic = topic(project.OrderBook.contract_type.events["OrderRequested"])
        self.settled_topic = topic(project.InversePool.contract_type.events["OrderSettled"])
        self.rebalance_topic = topic(project.InversePool.contract_type.events["Rebalance"])
        self.requested: dict[tuple[str, int], int] = {}  # (book, id) -> requested_at
        self.settled: dict[tuple[str, int], int] = {}  # (book, id) -> outcome
        self.waits: list[int] = []
        self.cursor = self.node.block + 1

    def read(self) -> dict:
        """What happened since the last read, per market (its label): orders
        settled, refunded or void and rebalances (how many on the threshold); and
        over all, each settled order's wait and the rebalances."""
        last = self.node.block
        book_of = {m.pool.lower(): m.book for m in self.markets}
        logs = self.node.rpc(
            "eth_getLogs",
            [
                {
                    "fromBlock": hex(self.cursor),
                    "toBlock": hex(last),
                    "address": [a for m in self.markets for a in (m.pool, m.book)],
                    "topics": [
                        ["0x" + t.hex() for t in (self.requested_topic, self.settled_topic, self.rebalance_topic)]
                    ],
                }
            ],
        )
        self.cursor = last + 1
        label_of = {m.pool.lower(): m.label for m in self.markets}
        day = {"waits": [], "rebalances": 0} | {
            m.label: {"settled": 0, "refunded": 0, "void": 0, "rebalances": 0, "threshold": 0} for m in self.markets
        }
        times: dict[int, int] = {}
        for log in logs:
            kind, address = bytes.fromhex(log["topics"][0][2:]), log["address"].lower()
            data = bytes.fromhex(log["data"][2:])
            words = decode(["uint256"] * (len(data) // 32), data)
            order_id = int(log["topics"][1], 16) if len(log["topics"]) > 1 else None
            if kind == self.requested_topic:
                self.requested[(address, order_id)] = words[3]
            elif kind == self.settled_topic:
                key = (book_of[address].lower(), order_id)
                outcome = words[0]
                if key in self.settled:
                    raise click.ClickException(f"order {key} settled twice")
                self.settled[key] = outcome
                market = day[label_of[address]]
                market["settled"] += 1
                market["refunded"] += outcome == OUTCOME_REFUNDED
                market["void"] += outcome == OUTCOME_VOID
                block = int(log["blockNumber"], 16)
                if block not in times:
                    times[block] = self.node.timestamp(block)
                day["waits"].append(times[block] - self.requested[key])
            else:
                day["rebalances"] += 1
                day[label_of[address]]["rebalances"] += 1
                day[label_of[address]]["threshold"] += bool(words[0] & REASON_THRESHOLD)
        self.waits += day["waits"]
        return day


class Demo:
    def __init__(
        self, markets, owner: str, users: list[str], lps: list[str], feed: str | None, service: str | None, pyth=None
    ):
        """`feed`: push markets' mock feed; `service` and `pyth`: pull markets' price
        service URL and Pyth contract."""
        self.markets, self.owner, self.feed, self.service, self.pyth = markets, owner, feed, service, pyth
        self.refreshed = 0  # when Pyth's store last got the service's price (pull)
        self.path_until = 0  # the price service has the path up to this time (pull)
        self.due_cache: tuple[int, list] | None = None  # (block, views) of the last `pull_work_due`
        self.node = markets[0].node
        self.users, self.lps = users, lps
        # The demo drives Anvil's clock: it stands still between steps (every block
        # gets the time of the last `publish`), so each hour lasts exactly an hour
        # however long the keeper takes in wall-clock time.
        self.node.rpc("anvil_setBlockTimestampInterval", [0])
        self.block = self.node.block  # the last step's
        self.clock = self.node.timestamp(self.block)
        self.answer = START_PRICE

    def publish(self, answer: int, seconds: int = 3_600) -> None:
        """The price `answer` from `seconds` after the previous step: the clock moves
        on, then a round (push) or the price service's path (pull: a price every
        second from now on), and the first block at the new time (pull: if the
        keeper has work then)."""
        self.clock += seconds
        self.answer = answer
        self.node.rpc("anvil_setTime", [self.clock])
        if self.feed:
            self.block = self.node.send(self.owner, self.feed, "set_answer(int256)", (answer,), gas=200_000)
            return
        if self.clock > self.path_until:
            self.set_path([(self.clock, answer)])
        # A block only when the keeper has work at the new time: on a pull market an
        # hour with nothing due needs none (the price is the service's, not a round).
        if self.pull_work_due(self.block):
            self.node.rpc("evm_mine")
            self.block = self.node.block

    def set_path(self, prices: list[tuple[int, int]]) -> None:
        """The price service's path: each (time, answer) from its time on (the
        service serves none before the chain's clock reaches it)."""
        body = {"prices": [{"price": str(Decimal(answer) / 10**8), "from": t} for t, answer in prices]}
        response = requests.post(f"{self.service}/price", json=body, timeout=30)
        if response.status_code != 200:
            raise click.ClickException(f"the price service refused the path: {response.text}")
        self.path_until = max(self.path_until, prices[-1][0])

    def changed(self) -> None:
        """Transactions were sent (requests, the keeper's): read the latest block again."""
        self.block = self.node.block

    def last_not_before(self) -> int:
        """The latest T of the orders pending in any market (the clock if none)."""
        latest = self.clock
        for m in self.markets:
            pending, head = self.node.calls(
                [(m.book, "pending_orders()", (), ("uint256",)), (m.book, "next_order()", (), ("uint256",))]
            )
            if pending:
                status = self.node.call(m.book, "order(uint256)", (head + pending - 1,), ("uint256",) * 3)
                latest = max(latest, status[1])
        return latest

    def fresh_price(self) -> None:
        """On pull markets, the views (previews, NAV) read the newest price on-chain:
        bring the service's latest to Pyth's store, once per step that needs it."""
        if self.feed or self.refreshed == self.clock:
            return
        if self.node.timestamp(self.node.block) < self.clock:  # the service publishes up to the chain's now
            self.node.rpc("evm_mine")
            self.block = self.node.block
        body = requests.get(
            f"{self.service}/v2/updates/price/latest", params={"ids[]": ETH_USD, "encoding": "hex"}, timeout=10
        ).json()
        data = [bytes.fromhex(d) for d in body["binary"]["data"]]
        self.block = self.node.send(
            self.owner, self.pyth, "updatePriceFeeds(bytes[])", (data,), gas=500_000, value=len(data)
        )
        self.refreshed = self.clock

    def work_due(self, block: int) -> bool:
        """Whether the keeper has something to do at `block`: in some market the
        oldest order's price may be out (what the pool itself checks before a
        rebalance), or a rebalance is due."""
        if not self.feed:
            return self.pull_work_due(block)
        round_data = ("uint80", "int256", "uint256", "uint256", "uint80")
        answers = self.node.calls(
            [(self.feed, "latestRoundData()", (), round_data)]
            + [(m.book, "head()", (), ("bool", "uint256", "uint256")) for m in self.markets]
            + [(m.pool, "rebalance_due()", (), ("bool",)) for m in self.markets],
            block,
        )
        round_id, _, _, updated_at, _ = answers[0]
        heads, rebalances = answers[1 : 1 + len(self.markets)], answers[1 + len(self.markets) :]
        due = [
            pending and (phase != round_id >> 64 or updated_at >= not_before) for pending, not_before, phase in heads
        ]
        return any(due) or any(rebalances)

    def pull_work_due(self, block: int) -> bool:
        """On pull markets: an order whose T has passed, or a rebalance that the
        current price makes due (the keeper proves it as it rebalances)."""
        calls = []
        for m in self.markets:
            calls += [
                (m.book, "head()", (), ("bool", "uint256", "uint256")),
                (m.pool, "last_rebalance()", (), ("uint256",)),
                (m.pool, "reference_price()", (), ("uint256",)),
                (m.pool, "is_shutdown()", (), ("bool",)),
            ]
        # The chain changes only through transactions: the same block, the same views.
        if self.due_cache is None or self.due_cache[0] != block:
            self.due_cache = (block, self.node.calls(calls, block))
        answers = self.due_cache[1]
        price = self.answer * 10**10
        for i, m in enumerate(self.markets):
            (pending, not_before, _), last, reference, shut = answers[4 * i : 4 * i + 4]
            if pending and not_before <= self.clock:
                return True
            if not shut and rebalance_would_be_due(self.clock, price, last, m.interval, reference, m.threshold):
                return True
        return False

    def wait_for_keeper(self, timeout: float = 60) -> None:
        """Wait until the bot has settled every due order and rebalanced every due
        market: a look after each block (the bot's transactions), from the last
        round's."""
        start = nudged = time.monotonic()
        shown = 0
        block = self.block
        while self.work_due(block):
            while (latest := self.node.block) == block:
                now = time.monotonic()
                waited = now - start
                if waited > timeout:
                    raise click.ClickException("the keeper bot did not settle and rebalance in time")
                if now - nudged > NUDGE_AFTER:
                    # A real chain keeps making blocks; Anvil only mines on transactions.
                    # The clock stands still, so an empty block changes nothing else.
                    self.node.rpc("evm_mine")
                    nudged = now
                if int(waited) > shown and waited > 3:
                    shown = int(waited)
                    progress(f"waiting for the keeper bot ... {shown} s")
                time.sleep(0.005)
            block = latest
        self.block = block
        if shown:
            progress("")


def progress(text: str) -> None:
    """One line that a terminal rewrites in place (a log gets one line every 10 s)."""
    if sys.stdout.isatty():
        click.echo("\r" + f"      {text}".ljust(60) + ("" if text else "\r"), nl=False)
    elif text.endswith("0 s"):
        click.echo(f"      {text}")


@click.command()
@click.option("--days", type=int, help="Days of prices to replay.  [default: 120, or the whole --prices file]")
@click.option("--seed", default=7, show_default=True, help="Seed of the price path and of the users.")
@click.option(
    "--prices",
    "prices_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="Replay this price history instead of the seeded path: CSV rows of a time "
    "(Unix seconds or ISO 8601, UTC) and a USD price, in time order; one price an hour is used.",
)
@click.option("--plot", "plot_path", default="out/demo.png", show_default=True, help="Where to write the plot.")
@click.option(
    "--oracle",
    type=click.Choice(["pull", "push"]),
    default="pull",
    show_default=True,
    help="pull: Pyth prices, orders settle in seconds; push: Chainlink-style hourly rounds.",
)
def cli(days, seed, prices_file, plot_path, oracle):
    """Replay a seeded price path (or a real one, --prices) through -1x and -3x markets with the keeper bot running."""
    history = None
    if prices_file:
        try:
            history = read_history(prices_file)
        except HistoryError as error:
            raise click.BadParameter(str(error), param_hint="--prices") from None
        if days is not None and days > history.days:
            raise click.BadParameter(f"the file covers {history.days} days", param_hint="--days")
        days = days or history.days
    days = 120 if days is None else days
    if days < 2:
        raise click.BadParameter("at least 2 days (the crash is mid-run)", param_hint="--days")
    # Users see the table: no transaction logs or library warnings.
    logger.set_level("ERROR")
    logging.getLogger().setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="inverse-demo-"))
    with AnvilNode(workdir) as node, networks.parse_network_choice(node.network_choice):
        ok = run(node, workdir, days, seed, Path(plot_path), oracle == "pull", history)
    click.echo(f"({time.monotonic() - started:.0f} s)")
    sys.exit(0 if ok else 1)


def run(node, workdir: Path, days: int, seed: int, plot_path: Path, pull: bool, history: History | None) -> bool:
    test_accounts = accounts.test_accounts
    owner, keeper, lp = test_accounts[0], test_accounts[2], test_accounts[3]
    users = [a.address for a in test_accounts[4:9]]
    second_lp = test_accounts[9].address
    kind = "pull" if pull else "push"
    click.echo(f"Anvil at {node.uri}; deploying {kind} markets with deployments/config.yaml (local) ...")
    config = load_config("deployments/config.yaml", "local")
    config["markets"] = [market | {"oracle": kind} for market in config["markets"]]
    manifest = deploy_plan(owner, plan_deployment(config, True), "local")
    manifest_file = workdir / "local.json"
    write_manifest(manifest, manifest_file)
    web3_node = Node()
    feed = None if pull else manifest["contracts"]["feed"]
    collateral = manifest["contracts"]["collateral"]
    markets = [Market(web3_node, entry) for entry in manifest["markets"]]
    lps = [lp.address, second_lp]
    for person in lps + users:
        web3_node.send(person, collateral, "mint(address,uint256)", (person, 10_000_000 * USDC))
        for m in markets:  # users approve the order book, not the pool
            web3_node.send(person, collateral, "approve(address,uint256)", (m.book, MAX_UINT))

    # The operator keeps the markets on schedule even where Anvil's 1 gwei tip makes a
    # one-order batch cost more than its 0.1 USDC settle fee (on an L2 it pays).
    env = {"INVERSE_MANIFEST": str(manifest_file), "INVERSE_KEEPER_ALWAYS": "1"}
    service = None
    if pull:
        click.echo("Starting the price service and the keeper bot ...")
        service = PriceServiceProcess(workdir, node, price=str(Decimal(START_PRICE) / 10**8))
        service.start()
        env["INVERSE_HERMES_URL"] = service.url
    else:
        click.echo("Starting the keeper bot ...")
    bot = KeeperBot(workdir, node, None, account="TEST::2", env=env)
    try:
        bot.start()
        pyth = manifest["contracts"].get("pyth")
        demo = Demo(markets, owner.address, users, lps, feed, service.url if service else None, pyth)
        ledger = Ledger(markets)
        for m in markets:
            m.request(lp.address, "lp_deposit", 1_000_000 * USDC, 0)
        demo.changed()
        demo.publish(START_PRICE, seconds=demo.last_not_before() - demo.clock if pull else 600)
        demo.wait_for_keeper()
        ledger.read()
        click.echo("LPs seeded: 1,000,000 USDC in each market, requested and settled by the keeper bot.")
        rows = replay(demo, ledger, days, seed, history)
        click.echo("\nChecks:")
        solvent = check_solvency(demo, collateral)
        exits = exit_everyone(demo, ledger, collateral)
        bot.stop()
        ok = check(demo, ledger, collateral, exits, keeper.address) and solvent
        rebalances = sum(row["rebalances"] for row in rows)
        earned = web3_node.call(collateral, "balanceOf(address)", (keeper.address,))
        click.echo(
            f"\nThe keeper bot settled {len(ledger.settled)} orders and rebalanced {rebalances} times; "
            f"it earned {fmt_units(earned, 6)} USDC (settle fees and bounties).\n"
            f"Mean wait from request to settlement: {mean_wait(ledger.waits)}."
        )
        plot(rows, markets, plot_path, "crash day" if history is None else "largest daily move")
        click.echo(f"Plot: {plot_path}")
        return ok
    finally:
        bot.stop()
        bot.forget()
        if service:
            service.stop()


def mean_wait(waits: list[int]) -> str:
    if not waits:
        return "-"
    mean = sum(waits) / len(waits)
    return f"{mean:.0f} s" if mean < 120 else f"{mean / 60:.0f} min"


def history_path(history: History, days: int) -> tuple[list[int], list[int], int]:
    """A real history as the demo replays it: (the prices published, scaled so that
    the first is the deployment's first price, START_PRICE; the file's own, shown
    in the table and the plot; the day of the largest close-to-close move). An
    inverse token's returns depend only on relative moves, so the scale changes none."""
    shown = history.hourly[: days * 24]
    path = [price * START_PRICE // shown[0] for price in shown]
    closes = [shown[0]] + [shown[day * 24 + 23] for day in range(days)]
    moves = [abs(closes[day + 1] - closes[day]) * WAD // closes[day] for day in range(days)]
    return path, shown, moves.index(max(moves))


def replay(demo: Demo, ledger: Ledger, days: int, seed: int, history: History | None = None) -> list[dict]:
    markets = demo.markets
    if history is None:
        crash_day = days // 2
        path = shown = price_path(days, crash_day, seed)
        marked = "the crash day"
    else:
        path, shown, crash_day = history_path(history, days)
        marked = "the largest daily move"
        click.echo(
            f"\nReplaying {days} days of real prices, {history.date(1)} to {history.date(days)} (UTC). On-chain "
            f"they are scaled to start at {START_PRICE // 10**8:,}; the table shows the file's."
        )
    rng = random.Random(seed + 1)
    header = f"{'day':>5} {'ETH':>9}"
    for m in markets:
        header += f" | {m.label + ' NAV':>8} {'drag':>7} {'LP value':>10} {'orders':>10} {'rebal':>5}"
    click.echo(
        "\ndrag: NAV less the naive -L x cumulative move; orders: settled (refunded, void) that day; rebal: "
        f"rebalances\n(on the threshold); wait: mean, request to settlement; *: {marked}\n"
    )
    click.echo(header + f" | {'wait':>6}")
    rows = []
    step = 0  # seconds of this hour already spent settling (pull)
    if not demo.feed:  # the price service gets the whole path at once: it publishes each price at its time
        demo.set_path([(demo.clock + 3_600 * (i + 1), answer) for i, answer in enumerate(path)])
    for day in range(days):
        for hour in range(24):
            demo.publish(path[day * 24 + hour], seconds=3_600 - step)
            demo.wait_for_keeper()
            step = 0
            if hour == TRADE_HOUR:
                trade(demo, rng)
                demo.changed()
                if not demo.feed:  # on a pull market the keeper settles them in the first block after their T
                    step = demo.last_not_before() - demo.clock
                    demo.publish(path[day * 24 + hour], seconds=step)
                    demo.wait_for_keeper()
        events = ledger.read()
        row = {
            "day": day + 1,
            "price": shown[day * 24 + 23],
            "rebalances": events["rebalances"],
            "crash": day == crash_day,
        }
        line = f"{day + 1:>4}{'*' if row['crash'] else ' '} {shown[day * 24 + 23] / 1e8:>9,.2f}"
        for m in markets:
            demo.fresh_price()
            nav = Decimal(m.view("nav")) / WAD
            naive = m.naive(path[day * 24 + 23], START_PRICE)
            row[m.label] = (nav, naive)
            e = events[m.label]
            orders = f"{e['settled']} ({e['refunded']},{e['void']})"
            rebalances = f"{e['rebalances']}" + (f" ({e['threshold']})" if e["threshold"] else "")
            lp_value = m.preview("lp_value") / USDC
            line += f" | {nav:>8.4f} {nav - naive:>+7.4f} {lp_value:>10,.0f} {orders:>10} {rebalances:>5}"
        click.echo(line + f" | {mean_wait(events['waits']):>6}")
        rows.append(row)
    return rows


def trade(demo: Demo, rng: random.Random) -> None:
    """Each day some users request mints or redeems, and an LP moves liquidity,
    each with a 2% slippage bound on the preview at the current price."""
    demo.fresh_price()
    for user in demo.users:
        m = rng.choice(demo.markets)
        balance = m.balance(m.pool, user)
        if balance and rng.random() < 0.4:
            shares = balance * rng.randint(20, 100) // 100
            if m.preview("preview_redeem", shares) < 2 * m.min_order:
                shares = balance  # a small remainder goes whole (a part must be worth min_order)
            m.request(user, "redeem", shares, with_slippage(m.preview("preview_redeem", shares)))
        elif rng.random() < 0.6:
            room = m.preview("max_mint")
            assets = min(rng.randint(1_000, 50_000) * USDC, room * 9 // 10)
            if assets >= 10 * USDC:
                m.request(user, "mint", assets, with_slippage(m.preview("preview_mint", assets)))
    if rng.random() < 0.3:
        lp = demo.lps[1]
        m = rng.choice(demo.markets)
        shares = m.balance(m.lp_token, lp)
        if shares and rng.random() < 0.5:
            part = shares * rng.randint(20, 100) // 100
            if m.preview("preview_lp_withdraw", part) >= 2 * m.min_order:
                m.request(lp, "lp_withdraw", part, with_slippage(m.preview("preview_lp_withdraw", part)))
        else:
            assets = rng.randint(10_000, 200_000) * USDC
            m.request(lp, "lp_deposit", assets, with_slippage(m.preview("preview_lp_deposit", assets)))


def with_slippage(preview: int) -> int:
    return int(preview * (1 - SLIPPAGE))


def exit_everyone(demo: Demo, ledger: Ledger, collateral: str) -> dict:
    """Every holder redeems everything and every LP withdraws everything (at any
    price); the keeper settles it at the next round. Returns what each got."""
    people = demo.lps + demo.users
    before = {p: demo.node.call(collateral, "balanceOf(address)", (p,)) for p in people}
    leaving = set()
    for m in demo.markets:  # holders first, so the LPs' withdrawals are not held back by backing
        for person in people:
            if shares := m.balance(m.pool, person):
                m.request(person, "redeem", shares, 0)
                leaving.add(person)
    for m in demo.markets:
        for person in people:
            if shares := m.balance(m.lp_token, person):
                m.request(person, "lp_withdraw", shares, 0)
                leaving.add(person)
    demo.changed()
    demo.publish(demo.answer, seconds=3_600 if demo.feed else demo.last_not_before() - demo.clock)
    demo.wait_for_keeper()
    ledger.read()
    return {p: demo.node.call(collateral, "balanceOf(address)", (p,)) - before[p] for p in leaving}


def check_solvency(demo: Demo, collateral: str) -> bool:
    """Each pool holds at least what it owes: its accounted assets, the escrow of
    pending orders and what payouts wait to be claimed."""
    demo.fresh_price()
    ok = True
    for m in demo.markets:
        held = demo.node.call(collateral, "balanceOf(address)", (m.pool,))
        assets, claimable = m.view("total_assets"), m.view("total_claimable")
        escrowed = demo.node.call(m.book, "escrowed()")
        fine = held >= assets + escrowed + claimable and m.preview("inverse_value") + m.preview("lp_value") == assets
        ok &= fine
        click.echo(
            f"  {m.label}: holds {held / USDC:,.2f} USDC for {assets / USDC:,.2f} accounted + "
            f"{escrowed / USDC:,.2f} in escrow + {claimable / USDC:,.2f} claimable ({'ok' if fine else 'BROKEN'})"
        )
    return ok


def check(demo: Demo, ledger: Ledger, collateral: str, exits: dict, keeper: str) -> bool:
    """Every order was settled or refunded, everyone got out, and the pools are still solvent."""
    ok = True
    for m in demo.markets:
        pending = demo.node.call(m.book, "pending_orders()")
        requested = {key for key in ledger.requested if key[0] == m.book.lower()}
        settled = {key for key in ledger.settled if key[0] == m.book.lower()}
        lost = requested - settled
        fine = pending == 0 and not lost and settled <= requested
        ok &= fine
        refunded = sum(1 for key in settled if ledger.settled[key] in (OUTCOME_REFUNDED, OUTCOME_VOID))
        click.echo(
            f"  {m.label}: {len(requested)} orders requested, {len(settled)} settled ({refunded} refunded), "
            f"{pending} pending, {len(lost)} lost ({'ok' if fine else 'BROKEN'})"
        )
        supply, lp_supply = m.view("totalSupply"), demo.node.call(m.lp_token, "totalSupply()")
        left = m.view("total_assets")
        # The keeper bot holds LP shares if it was paid in them for a refused LP
        # withdrawal (when the backing rule left no collateral to pay its fee): they
        # are an LP's like any, and what is left is theirs.
        kept = demo.node.call(m.lp_token, "balanceOf(address)", (keeper,))
        drained = supply == 0 and lp_supply == kept and (kept != 0 or left <= 10)
        ok &= drained
        if supply != 0 or lp_supply != kept:
            left_text = f"{left} wei of collateral left, {supply} token wei and {lp_supply} LP share wei still out"
        elif kept:
            left_text = f"{left} wei of collateral left: the keeper bot's {kept / 10**18:.4f} LP shares"
        else:
            left_text = f"{left} wei of collateral left"
        verdict = "ok" if drained else "BROKEN"
        click.echo(f"  {m.label}: every holder and LP asked to exit, all settled: {left_text} ({verdict})")
    paid = all(amount > 0 for amount in exits.values())
    ok &= paid
    click.echo(f"  every holder and LP was paid out ({'ok' if paid else 'BROKEN'})")
    ok &= check_solvency(demo, collateral)
    click.echo("All solvent; every order settled or refunded; everyone exited." if ok else "CHECK FAILED")
    return ok


def plot(rows, markets, path: Path, marked: str) -> None:
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
    bottom.set_xlabel(f"day (dotted: {marked})")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
