"""Wallet CLI for holders and LPs.

    ape run inverse status      --network <net> [--account <alias>] [--market 1 | --pool 0x...]
    ape run inverse mint 100    --network <net> --account <alias> --market 3
    ape run inverse redeem all  ...
    ape run inverse lp-deposit 5000 / lp-withdraw all
    ape run inverse orders / settle / claim / rebalance

`status` and `orders` read only: without `--account` they show the market (and
every order in it) without your positions.

Every mint, redeem, LP deposit and LP withdrawal is an order: requested now,
settled at the next oracle price (the first round published at least the market's
min delay after the request). Amounts are in whole units (collateral for mint and
lp-deposit, tokens for redeem, LP shares for lp-withdraw), or `all`. Each request
shows its preview at the current price and its slippage bound (`--slippage`,
percent; never 0 while the preview is above 0: at least 1 unit; a preview of 0
is refused unless `--accept-zero-bound`), asks before sending (`--yes` skips the
question), then waits for the settlement and prints
what the order got (`--no-wait` returns with the order id).
"""

import json
import sys
import time
import warnings
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from ape import chain, project
from ape.cli import ConnectedProviderCommand
from ape.cli.choices import AccountAliasPromptChoice
from ape.contracts import ContractInstance
from ape.exceptions import ApeException, ContractLogicError
from ape.logging import LogLevel, logger

from inverse import wallet
from inverse.constants import (
    ORDER_LP_DEPOSIT,
    ORDER_LP_WITHDRAW,
    ORDER_MINT,
    ORDER_REDEEM,
    ORDER_SETTLED,
    OUTCOME_VOID,
    OUTCOMES,
    PULL_SLOT,
)
from inverse.deploy import _ERC20_ABI, PYTH_FEE_ABI, manifest_path, partial_contract
from inverse.hermes import Hermes, hermes_url
from inverse.orders import pending_orders
from inverse.pull import current_slot_update, hermes_source
from inverse.status import fmt_duration, fmt_time, fmt_units, fmt_wad, format_status, read_status

# Reverts in plain words, each saying what to do next; anything else is shown as the contract said it.
EXPLANATIONS = {
    "orders: closed": "the market takes no new mints or LP deposits now (paused or shut down); redeem and LP "
    "withdraw still work",
    "orders: below min order": "the order is below the market's minimum (see 'order terms' in status); "
    "ask for more, or for all of your balance",
    "orders: deadline passed": "the request waited too long to be mined; send it again",
    "orders: permit failed": "the collateral did not accept the permit signature and the order book is not approved",
    "orders: receiver is the pool": "the receiver cannot be the pool, its LP token or its order book",
    "orders: order not due": "no order's round is out yet; wait for the next oracle round",
    "orders: not the next order": "someone settled first; run settle again",
    "orders: fee-on-transfer collateral": "this collateral takes a fee on transfers, which the market refuses",
    "pool: redeem exceeds balance": "you do not hold that many tokens (see 'your tokens' in status)",
    "pool: withdraw exceeds balance": "you do not hold that many LP shares (see 'your LP shares' in status)",
    "pool: nothing to claim": "nothing is owed to you",
    "pool: settle due orders first": "an order whose round is out must settle first: run settle, then rebalance",
    "pool: rebalance not due": "nothing to do: the pool is not due for a rebalance",
    "pool: shut down": "this market has been shut down; only redeem and LP withdraw work",
    "orders: worth less than the settle fee": "the exit is worth less than the settle fee it pays its settler, "
    "so it would get nothing; exit a larger amount (after a shutdown, any amount settles for free)",
    "pool: exit worth nothing": "at the last reference price this amount is worth less than the collateral's "
    "smallest unit, so it would pay nothing; exit a larger amount",
    "pool: bad receiver": "the bounty cannot go to the zero address, the pool or its LP token",
    "lp: shares rescaled this second": "LP shares were rescaled after an exhaustion this very second; "
    "request again in a moment (your share of the pool is unchanged)",
    "oracle: stale price": "the price feed has not updated recently; try again once it does",
    "rebalancer: update fee not paid": "Pyth's update fee was not sent with the price update; send it "
    "(getUpdateFee on Pyth's contract says how much)",
    "oracle: no price proven": "no Pyth price has been proven on this market yet; run rebalance or settle first",
    "orders: no update to pay for": "a settle pays Pyth's fee only with price updates to bring",
    "orders: not a pull market": "this market settles at Chainlink rounds: settle without price updates",
    "oracle: sequencer down": "the L2 sequencer is down; prices cannot be trusted until it is back",
    "oracle: sequencer grace period": "the L2 sequencer came back only recently; try again in a while",
}

# How the order book gets the collateral for a mint or LP deposit (`wallet.how_to_pay_order`).
PAYMENT = {
    "allowance": "Collateral: already approved.",
    "permit": "Collateral: by a permit signature (you sign it next), no approval transaction.",
    "approve": "Collateral: this token takes no permit, so an approval for this amount is sent first.",
}

# Seconds between looks at the chain while waiting for a settlement.
POLL_SECONDS = 2


@dataclass
class Market:
    pool: ContractInstance
    book: ContractInstance
    lens: ContractInstance  # the previews
    collateral: ContractInstance
    decimals: int
    start_block: int  # where its orders' events begin (the deployment block)
    pull: bool = False  # priced by a pull oracle (Pyth, SPEC 3b): orders settle in seconds
    manifest: dict | None = None  # its deployment manifest, if any (where `hermes` may be)

    @property
    def symbol(self) -> str:
        return self.pool.symbol()

    @property
    def deadline_seconds(self) -> int:
        """A request's deadline in chain time (longer where the manifest says the clock runs fast)."""
        return wallet.deadline_seconds(self.manifest)

    def units(self, kind: int, output: bool) -> tuple[int, str]:
        """Decimals and unit of what an order of `kind` pays in (or gets out)."""
        collateral_in = kind in (ORDER_MINT, ORDER_LP_DEPOSIT)
        if collateral_in != output:
            return self.decimals, self.collateral.symbol()
        return 18, ("LP shares" if kind in (ORDER_LP_DEPOSIT, ORDER_LP_WITHDRAW) else self.symbol)

    def amount(self, value: int, kind: int, output: bool = False) -> str:
        decimals, unit = self.units(kind, output)
        return f"{fmt_units(value, decimals, 2 if decimals == self.decimals else 6)} {unit}"

    def money(self, value: int) -> str:
        return f"{fmt_units(value, self.decimals)} {self.collateral.symbol()}"

    def least(self, value: int, decimals: int | None = None, places: int = 2) -> str:
        """A slippage bound: `places` decimals, or every one where fewer would hide it."""
        decimals = self.decimals if decimals is None else decimals
        if 0 < value < 10 ** max(decimals - places, 0):
            places = decimals
        return fmt_units(value, decimals, places)


def account_option(required: bool = True):
    """`--account`: an alias from `ape accounts list` (TEST::0 .. TEST::9 on a local
    chain). A command that sends refuses to go on without one and says how; a
    read-only one works without."""

    def check(ctx, param, value):
        if value is None and required:
            raise click.UsageError(
                "pass --account ALIAS, an account from `ape accounts list` (`ape accounts import ALIAS` adds one; "
                "on a local chain TEST::0 .. TEST::9)"
            )
        return value

    what = "sends from" if required else "shows the positions of (optional)"
    return click.option(
        "--account",
        type=AccountAliasPromptChoice(),
        default=None,
        callback=check,
        help=f"The account it {what}: an alias from `ape accounts list` (local chain: TEST::0 .. TEST::9).",
    )


def pool_options(command):
    command = click.option("--pool", "pool_address", help="Pool address (instead of --market).")(command)
    command = click.option("--market", default="1", show_default=True, help="Leverage of the market in the manifest.")(
        command
    )
    return click.option("--manifest", help="Deployment manifest (default: deployments/<network>.json).")(command)


def request_options(command):
    command = click.option("--yes", is_flag=True, help="Send without asking.")(command)
    command = click.option(
        "--slippage", default=0.5, show_default=True, type=click.FloatRange(0, 100), help="Slippage bound, in percent."
    )(command)
    command = click.option(
        "--accept-zero-bound",
        is_flag=True,
        help="Send even when the preview is 0, with a slippage bound of 0 (the order takes whatever it gets).",
    )(command)
    command = click.option("--no-wait", is_flag=True, help="Return once the order is requested.")(command)
    return click.option(
        "--settle", "settle_self", is_flag=True, help="While waiting, settle the order yourself once its round is out."
    )(command)


def load_market(network, manifest, market, pool_address) -> Market:
    path = Path(manifest) if manifest else manifest_path(network.name)
    entries = json.loads(path.read_text()) if path.exists() else None
    if pool_address:
        pool = _pool_at(pool_address)
        listed = entries and any(m["pool"].lower() == pool.address.lower() for m in entries["markets"])
        start_block = entries["block"] if listed else 0
    else:
        if entries is None:
            raise click.ClickException(f"no manifest at {path}: deploy first, or pass --manifest or --pool")
        found = [m for m in entries["markets"] if m["leverage"] == market]
        if not found:
            labels = ", ".join(m["leverage"] for m in entries["markets"])
            raise click.ClickException(f"no -{market}x market in {path}; it has: {labels}")
        pool, start_block = _pool_at(found[0]["pool"]), entries["block"]
    collateral = collateral_of(pool)
    book = wallet.order_book(pool)
    return Market(pool, book, wallet.lens(pool), collateral, collateral.decimals(), start_block, book.pull(), entries)


def _pool_at(address: str):
    try:
        address = chain.provider.network.ecosystem.decode_address(address)
    except Exception as error:  # whatever the decoder raises, the answer is the same
        raise click.ClickException(f"'{address}' is not an address") from error
    if not chain.provider.get_code(address):
        raise click.ClickException(f"no contract at {address} on this network")
    # Not `.at()`: on a live network ape would remember the pool's type for that
    # address on disk, even for a mistyped one.
    pool = ContractInstance(address, project.InversePool.contract_type)
    try:
        pool.order_book()
    except ApeException as error:
        raise click.ClickException(f"{address} is not a market that takes orders") from error
    return pool


def collateral_of(pool):
    abi = _ERC20_ABI + [
        {
            "type": "function",
            "name": name,
            "stateMutability": "view",
            "inputs": inputs,
            "outputs": [{"name": "", "type": output}],
        }
        for name, inputs, output in (
            ("balanceOf", [{"name": "a", "type": "address"}], "uint256"),
            ("symbol", [], "string"),
        )
    ]
    return partial_contract(pool.collateral(), abi)


def parse_amount(text: str, decimals: int, available: int, what: str) -> int:
    if text == "all":
        if available <= 0:
            raise click.BadParameter(f"you have no {what}")
        return available
    try:
        amount = int(Decimal(text) * 10**decimals)
    except InvalidOperation as error:
        raise click.BadParameter(f"'{text}' is not an amount: give a number of whole units, or 'all'") from error
    if amount <= 0:
        raise click.BadParameter("the amount must be positive")
    return amount


def transact(action):
    """Sends, or raises the revert reason in plain words."""
    try:
        return action()
    except ContractLogicError as error:
        reason = str(error.message)
        raise click.ClickException(f"{reason}: {EXPLANATIONS.get(reason, 'the contract refused')}") from error
    except ApeException as error:
        raise click.ClickException(str(error)) from error


def confirm(yes: bool):
    if not yes and not click.confirm("Send?", default=False):
        raise click.Abort()


def preview(m: Market, account, view, *args):
    """A preview at the current price, or a clear stop when there is none."""
    try:
        return priced(m, account, lambda: view(*args))
    except ContractLogicError as error:
        reason = str(error.message)
        raise click.ClickException(
            f"no current price to preview against ({reason}: {EXPLANATIONS.get(reason, 'the pool refused')})"
        ) from error


def slippage_bound(expected: int, slippage: float, accept_zero: bool, what: str) -> int:
    """The order's `min_out`: the preview less the slippage, at least 1 unit while
    the preview is above 0. A preview of 0 stops here unless `accept_zero`."""
    if expected == 0 and not accept_zero:
        raise click.ClickException(
            f"the preview is 0 {what}: at the current price this order gets nothing, and a slippage bound "
            "cannot protect it. Nothing sent. To send it anyway with a bound of 0 (it settles for whatever it "
            "gets), add --accept-zero-bound"
        )
    return wallet.with_slippage(expected, round(slippage * 100))


def say_if_unbounded(min_out: int):
    if min_out == 0:
        click.echo("Warning: the preview is 0, so the slippage bound is 0: the order settles for whatever it gets.")


def fresh_price(m: Market, account) -> None:
    """On a pull market, a price recent enough to preview against (see `wallet.refresh_pull_price`)."""
    if not m.pull:
        return
    try:
        receipt = wallet.refresh_pull_price(m.pool, account, m.manifest)
    except RuntimeError as error:  # no price service configured
        raise click.ClickException(str(error)) from error
    if receipt is not None:
        click.echo(
            f"The price on-chain was too old to preview against: brought Pyth's latest (block {receipt.block_number})."
        )


def priced(m: Market, account, read):
    """`read()`, views that need a current price. On a pull market whose price went
    stale since `fresh_price` (a chain whose clock runs fast, like the playground's),
    the price is brought again and they are read once more."""
    for attempt in range(2):
        try:
            return read()
        except ContractLogicError:
            if not m.pull or attempt:
                raise
            fresh_price(m, account)


def quote(m: Market, account) -> tuple[str, str]:
    """The price and NAV shown beside a preview, read together."""
    return priced(m, account, lambda: (fmt_wad(m.pool.oracle_price(), 2), fmt_wad(m.pool.nav(), 6)))


def when_it_settles(m: Market) -> str:
    min_delay, max_wait = m.book.min_delay(), m.book.max_wait()
    if m.pull:
        return (
            "It settles at the NEXT Pyth price, not the one above: the first published at least "
            f"{fmt_duration(min_delay)} after the request (rounded up to a {PULL_SLOT}-second slot), so about "
            f"{fmt_duration(min_delay)} to {fmt_duration(min_delay + PULL_SLOT)} after it, once a keeper (or you, "
            f"with --settle) brings that price. If the first price after that time comes more than "
            f"{fmt_duration(max_wait)} late, the order is void and refunded in full."
        )
    # The deployment sets the oracle's max age to the feed's heartbeat + 10%.
    heartbeat = ContractInstance(m.pool.oracle(), project.ChainlinkOracle.contract_type).max_age() * 10 // 11
    return (
        "It settles at the NEXT oracle price, not the one above: the first round published at least "
        f"{fmt_duration(min_delay)} after the request, so within about {fmt_duration(min_delay + heartbeat)} "
        f"(the feed's {fmt_duration(heartbeat)} heartbeat) in a calm market, sooner if the price moves. "
        f"If no round comes within {fmt_duration(max_wait)} after that, the order is void and refunded in full."
    )


def request(m: Market, account, kind: int, send_request, yes: bool, no_wait: bool, settle_self: bool):
    """Request, then wait for the settlement and show it (the part every order kind shares)."""
    click.echo(when_it_settles(m))
    confirm(yes)
    receipt = transact(send_request)
    order = wallet.requested_order(m.book, receipt)
    if order is None:  # after a shutdown an exit settles in the request
        click.echo(f"Settled at once in block {receipt.block_number} (the market is shut down).")
        for log in receipt.decode_logs(m.pool.OrderSettled):
            click.echo(describe_settlement(m, kind, log))
        return
    if m.pull:
        click.echo(
            f"Order {order.id} requested in block {receipt.block_number} (gas {receipt.gas_used}); priced at the "
            f"first Pyth price at or after {fmt_time(order.not_before)}, void if that comes after "
            f"{fmt_time(order.expires_at)}."
        )
    else:
        click.echo(
            f"Order {order.id} requested in block {receipt.block_number} (gas {receipt.gas_used}); "
            f"earliest round time {fmt_time(order.not_before)}, void if no round by {fmt_time(order.expires_at)}."
        )
    if no_wait:
        click.echo(f"Not waiting. `ape run inverse orders` shows where order {order.id} stands.")
        return
    log = wait_for_settlement(m, account, order, receipt.block_number, settle_self)
    click.echo(describe_settlement(m, kind, log, order))
    owed = m.pool.claimable(order.receiver)
    if owed:
        click.echo(f"{m.money(owed)} could not be sent to {order.receiver} and waits there: run `claim` from it.")


def wait_for_settlement(m: Market, account, order, from_block: int, settle_self: bool):
    """Waits (one progress line) until the pool reports the order settled; returns its `OrderSettled`."""
    started = time.monotonic()
    tty = sys.stdout.isatty()
    shown = None
    try:
        while True:
            if m.book.order(order.id).status == ORDER_SETTLED:
                log = wallet.settlement_of(m.pool, order.id, from_block)
                if log is not None:
                    if tty:
                        click.echo()
                    return log
            state = waiting_state(m, account, order, settle_self)
            elapsed = int(time.monotonic() - started)
            line = f"[{elapsed // 60}:{elapsed % 60:02d}] order {order.id}: {state}"
            if tty:
                click.echo("\r" + line.ljust(100), nl=False)
            elif state.split(" (")[0] != shown:  # in a log, one line per change
                click.echo(line)
            shown = state.split(" (")[0]
            time.sleep(POLL_SECONDS)
    except KeyboardInterrupt:
        if tty:
            click.echo()
        raise click.ClickException(
            f"stopped waiting; order {order.id} stays in the queue and settles without you: "
            "`ape run inverse orders` shows it"
        ) from None


def waiting_state(m: Market, account, order, settle_self: bool) -> str:
    now = chain.blocks.head.timestamp
    if now < order.not_before:
        what = "its price time" if m.pull else "its earliest round time"
        return f"waiting for {what} ({fmt_duration(order.not_before - now)} left)"
    due = wallet.due_settlement(m.pool, m.book, m.start_block, m.manifest)
    if order.id not in due.ids:
        return "waiting for the price service to publish its price" if m.pull else "waiting for the next oracle round"
    if settle_self:
        try:
            due.send(m.book, account)
        except ApeException:
            pass  # a keeper was first, or the node hiccupped: look again
        return "settling it"
    if now > order.expires_at and not m.pull:
        return "no round came in time: void, waiting for a settlement to refund it (or run settle)"
    out = "its price is out" if m.pull else "its round is out"
    return f"{out}: waiting for a keeper to settle it (or run settle)"


def describe_settlement(m: Market, kind: int, log, order=None) -> str:
    """What a settled order got; with the `order`, why it got less than it asked."""
    outcome = OUTCOMES.get(log.outcome, str(log.outcome))
    if log.outcome == OUTCOME_VOID and not log.round_id:
        priced = "no price could be had" if m.pull else "no round came in time"
    elif not log.round_id:
        priced = f"at the fixed NAV {fmt_wad(log.nav, 6)}"
    elif m.pull:  # a pull price's round id is its publish time
        if log.outcome == OUTCOME_VOID:
            priced = f"the first price after its time, published {fmt_time(log.round_id)}, came late or was invalid"
        else:
            priced = f"at the Pyth price published {fmt_time(log.round_id)}: {fmt_wad(log.price, 2)}, "
            priced += f"NAV {fmt_wad(log.nav, 6)}"
    else:
        # A proxy's round id is its phase (top 16 bits) and the aggregator's round.
        round_name = f"round {log.round_id & (2**64 - 1)} of phase {log.round_id >> 64}"
        priced = f"at {round_name}: price {fmt_wad(log.price, 2)}, NAV {fmt_wad(log.nav, 6)}"
    text = f"Order {log.order_id}: {outcome}, {priced}.\n  filled {m.amount(log.filled, kind)}"
    text += f", got {m.amount(log.out, kind, output=True)}"
    if log.refunded:
        # A void entry's refund includes the settle fee: collateral either way.
        text += f", refunded {m.amount(log.refunded, kind)}"
    text += f"; settle fee {m.money(log.settle_fee)}."
    if order is not None and (reason := wallet.refund_reason(order, log, m.decimals)):
        text += f"\n  Why: {reason}."
    return text


@click.group()
def cli():
    """Request mints, redeems and LP moves from a wallet; see and settle orders."""
    # What a user reads is this CLI's own words: ape's connection and receipt lines
    # (fees in wei) only with `-v INFO`.
    logger.set_level(LogLevel.WARNING)


# A settings class in one of ape's plugins warns on every run; nothing a user can act on.
warnings.filterwarnings("ignore", message="Field 'import_remapping' has an incomplete definition")


@cli.command(cls=ConnectedProviderCommand)
@account_option(required=False)
@pool_options
def status(network, account, manifest, market, pool_address):
    """Price, NAV, reference, next rebalance, capacity, orders, LP value and your positions."""
    m = load_market(network, manifest, market, pool_address)
    market_status = read_status(m.pool, m.collateral, m.book)
    click.echo(format_status(f"{m.symbol} at {m.pool.address}", market_status))
    if account is None:
        return
    # At the market's block: the worth at the price shown (a later block's may be stale).
    at = {"block_id": market_status.block}
    lp_token = project.LpToken.at(m.pool.lp_token())
    tokens, lp_shares = m.pool.balanceOf(account, **at), lp_token.balanceOf(account, **at)
    tokens_worth = fmt_units(_try(m.lens.preview_redeem, tokens, **at), m.decimals)
    lp_worth = fmt_units(_try(m.lens.preview_lp_withdraw, lp_shares, **at), m.decimals)
    click.echo(f"  your tokens      {fmt_wad(tokens, 4)} (worth {tokens_worth})")
    click.echo(f"  your LP shares   {fmt_wad(lp_shares, 4)} (worth {lp_worth})")
    click.echo(f"  your collateral  {fmt_units(m.collateral.balanceOf(account, **at), m.decimals)}")
    click.echo(f"  your claimable   {fmt_units(m.pool.claimable(account, **at), m.decimals)}")


def _try(view, *args, **kwargs):
    try:
        return view(*args, **kwargs)
    except ContractLogicError:
        return None


def check_entry(m: Market, account, assets: int):
    """What a mint or LP deposit request would be refused for, said before anything is sent."""
    if m.pool.paused() or m.pool.is_shutdown() or m.pool.shutdown_requested():
        raise click.ClickException(f"orders: closed: {EXPLANATIONS['orders: closed']}")
    if assets < m.book.min_order():
        raise click.ClickException(f"the smallest order in this market is {m.money(m.book.min_order())}")
    need, have = assets + m.book.settle_fee(), m.collateral.balanceOf(account)
    if have < need:
        raise click.ClickException(
            f"this needs {m.money(need)} (the amount plus the settle fee) and you have {m.money(have)}"
        )


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
@request_options
@click.argument("amount")
def mint(
    network, account, manifest, market, pool_address, slippage, yes, no_wait, accept_zero_bound, settle_self, amount
):
    """Request inverse tokens for AMOUNT collateral (or `all`), at the next price."""
    m = load_market(network, manifest, market, pool_address)
    fresh_price(m, account)
    settle_fee = m.book.settle_fee()
    assets = parse_amount(amount, m.decimals, m.collateral.balanceOf(account) - settle_fee, "collateral")
    check_entry(m, account, assets)
    capacity = priced(m, account, m.lens.max_mint)
    expected = preview(m, account, m.lens.preview_mint, assets)
    min_out = slippage_bound(expected, slippage, accept_zero_bound, m.symbol)
    price, nav = quote(m, account)
    click.echo(
        f"Mint request: pay {m.money(assets)} + {m.money(settle_fee)} settle fee. At the current price "
        f"{price} (NAV {nav}, mint fee "
        f"{fmt_wad(m.pool.parameters().mint_fee * 100, 2)}%) that is about {fmt_wad(expected, 6)} {m.symbol}; "
        f"at least {m.least(min_out, 18, 6)} at settlement, or the order is refunded."
    )
    say_if_unbounded(min_out)
    if assets > capacity:
        # Not refused here: LP deposits ahead in the queue, or the round's price, may make room.
        click.echo(
            f"Warning: only {m.money(capacity)} fits the LPs' backing now (LP deposits still pending not "
            "counted); what does not fit at settlement is refunded, and the settle fee is spent either way."
        )
    click.echo(PAYMENT[wallet.how_to_pay_order(m.pool, m.book, account, assets)])
    request(
        m,
        account,
        ORDER_MINT,
        lambda: wallet.request_entry(ORDER_MINT, m.pool, m.book, account, assets, min_out, seconds=m.deadline_seconds),
        yes,
        no_wait,
        settle_self,
    )


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
@request_options
@click.argument("amount")
def redeem(
    network, account, manifest, market, pool_address, slippage, yes, no_wait, accept_zero_bound, settle_self, amount
):
    """Request collateral for AMOUNT inverse tokens (or `all`), at the next price."""
    m = load_market(network, manifest, market, pool_address)
    fresh_price(m, account)
    balance = m.pool.balanceOf(account)
    shares = parse_amount(amount, 18, balance, f"{m.symbol} tokens")
    if shares > balance:
        raise click.ClickException(f"you hold {fmt_wad(balance, 6)} {m.symbol}; redeem at most that (or 'all')")
    expected = preview(m, account, m.lens.preview_redeem, shares)
    min_out = slippage_bound(expected, slippage, accept_zero_bound, m.collateral.symbol())
    price, nav = quote(m, account)
    click.echo(
        f"Redeem request: {fmt_wad(shares, 6)} {m.symbol}. At the current price {price} "
        f"(NAV {nav}, redeem fee {fmt_wad(m.pool.parameters().redeem_fee * 100, 2)}%, settle fee "
        f"{m.money(m.book.settle_fee())}) that pays about {m.money(expected)}; at least {m.least(min_out)} "
        f"{m.collateral.symbol()} at settlement, or the tokens come back. They stay exposed until then."
    )
    say_if_unbounded(min_out)
    request(
        m,
        account,
        ORDER_REDEEM,
        lambda: wallet.request_exit(ORDER_REDEEM, m.book, account, shares, min_out, seconds=m.deadline_seconds),
        yes,
        no_wait,
        settle_self,
    )


@cli.command("lp-deposit", cls=ConnectedProviderCommand)
@account_option()
@pool_options
@request_options
@click.option(
    "--recapitalise",
    is_flag=True,
    help="Deposit into an exhausted market on purpose: it makes holders whole first (a bound of 0).",
)
@click.argument("amount")
def lp_deposit(
    network,
    account,
    manifest,
    market,
    pool_address,
    slippage,
    yes,
    no_wait,
    accept_zero_bound,
    settle_self,
    recapitalise,
    amount,
):
    """Request LP shares for AMOUNT collateral (or `all`), at the next price."""
    m = load_market(network, manifest, market, pool_address)
    fresh_price(m, account)
    settle_fee = m.book.settle_fee()
    assets = parse_amount(amount, m.decimals, m.collateral.balanceOf(account) - settle_fee, "collateral")
    check_entry(m, account, assets)
    expected = preview(m, account, m.lens.preview_lp_deposit, assets)
    if m.lens.exhausted() and not recapitalise:
        raise click.ClickException(
            "this market is exhausted: holders are owed all it holds, so a deposit first makes them whole and gets "
            f"LP shares only for what is left (about {fmt_wad(expected, 6)} for {m.money(assets)} now). A deposit "
            "with a slippage bound is refunded at settlement; to recapitalise on purpose, pass --recapitalise "
            "(a bound of 0)"
        )
    min_out = 0 if recapitalise else slippage_bound(expected, slippage, accept_zero_bound, "LP shares")
    price, _ = quote(m, account)
    click.echo(
        f"LP deposit request: pay {m.money(assets)} + {m.money(settle_fee)} settle fee. At the current price "
        f"{price} (LP value {m.money(m.lens.lp_value())}) that is about "
        f"{fmt_wad(expected, 6)} LP shares; at least {m.least(min_out, 18, 6)} at settlement, or the order is "
        "refunded."
    )
    say_if_unbounded(min_out)
    click.echo(PAYMENT[wallet.how_to_pay_order(m.pool, m.book, account, assets)])
    request(
        m,
        account,
        ORDER_LP_DEPOSIT,
        lambda: wallet.request_entry(
            ORDER_LP_DEPOSIT, m.pool, m.book, account, assets, min_out, seconds=m.deadline_seconds
        ),
        yes,
        no_wait,
        settle_self,
    )


@cli.command("lp-withdraw", cls=ConnectedProviderCommand)
@account_option()
@pool_options
@request_options
@click.argument("amount")
def lp_withdraw(
    network, account, manifest, market, pool_address, slippage, yes, no_wait, accept_zero_bound, settle_self, amount
):
    """Request collateral for AMOUNT LP shares (or `all`), at the next price."""
    m = load_market(network, manifest, market, pool_address)
    fresh_price(m, account)
    balance = project.LpToken.at(m.pool.lp_token()).balanceOf(account)
    shares = parse_amount(amount, 18, balance, "LP shares")
    if shares > balance:
        raise click.ClickException(f"you hold {fmt_wad(balance, 6)} LP shares; withdraw at most that (or 'all')")
    expected = preview(m, account, m.lens.preview_lp_withdraw, shares)
    min_out = slippage_bound(expected, slippage, accept_zero_bound, m.collateral.symbol())
    price, _ = quote(m, account)
    click.echo(
        f"LP withdraw request: {fmt_wad(shares, 6)} LP shares. At the current price "
        f"{price} (settle fee {m.money(m.book.settle_fee())}) that pays about "
        f"{m.money(expected)}; at least {m.least(min_out)} {m.collateral.symbol()} at settlement, or the shares "
        f"come back. LPs may withdraw {m.money(m.lens.max_lp_withdraw())} in all now; beyond that is refunded."
    )
    say_if_unbounded(min_out)
    request(
        m,
        account,
        ORDER_LP_WITHDRAW,
        lambda: wallet.request_exit(ORDER_LP_WITHDRAW, m.book, account, shares, min_out, seconds=m.deadline_seconds),
        yes,
        no_wait,
        settle_self,
    )


@cli.command(cls=ConnectedProviderCommand)
@account_option(required=False)
@pool_options
def orders(network, account, manifest, market, pool_address):
    """Your orders (requested by you or to you) and where each stands; every order without --account."""
    m = load_market(network, manifest, market, pool_address)
    whose = f"by or to {account.address}" if account else "in the market"
    mine = wallet.account_orders(m.pool, m.book, account, m.start_block)
    if not mine:
        click.echo(f"No orders {whose} on {m.symbol} since block {m.start_block}.")
        return
    now = chain.blocks.head.timestamp
    click.echo(f"Orders {whose} on {m.symbol}:")
    for order, log in mine:
        head = f"  #{order.id} {order.kind_name} {m.amount(order.amount, order.kind)}"
        if account is None:
            head += f" by {order.requester}"
        elif order.receiver != account.address:
            head += f" to {order.receiver}"
        elif order.requester != account.address:
            head += f" from {order.requester}"
        if log is None:
            what = "price time" if m.pull else "round time"
            if now < order.not_before:
                wait = f"earliest {what} {fmt_time(order.not_before)} (in {fmt_duration(order.not_before - now)})"
            else:
                wait = f"earliest {what} {fmt_time(order.not_before)} passed, waiting for a settle"
            late = "its price comes after" if m.pull else "no round by"
            click.echo(f"{head}: pending, {wait}; void if {late} {fmt_time(order.expires_at)}")
        else:
            click.echo(f"{head}: {describe_settlement(m, order.kind, log, order).split(': ', 1)[1]}")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
@click.option("--yes", is_flag=True, help="Send without asking.")
def settle(network, account, manifest, market, pool_address, yes):
    """Settle every due order (anyone may), for their settle fees."""
    m = load_market(network, manifest, market, pool_address)
    if not settle_due(m, account, yes):
        waiting = pending_orders(m.book, m.start_block)
        if not waiting:
            click.echo("Nothing to settle: no order is pending.")
        else:
            oldest = waiting[0]
            what = "Pyth price" if m.pull else "round"
            click.echo(
                f"Nothing is due yet: {len(waiting)} order(s) pending; the oldest (#{oldest.id}) waits for the "
                f"first {what} at or after {fmt_time(oldest.not_before)}."
            )


def settle_due(m: Market, account, yes: bool) -> bool:
    """Settles what is due, after asking; False when nothing is."""
    due = wallet.due_settlement(m.pool, m.book, m.start_block, m.manifest)
    if not due.orders:
        return False
    ids = due.ids
    fee = f", paying Pyth {due.value} wei for {len(due.updates)} price update(s)" if due.updates else ""
    click.echo(f"Settle {len(ids)} due order(s) (#{ids[0]}..#{ids[-1]}) for their settle fees{fee}.")
    confirm(yes)
    receipt = transact(lambda: due.send(m.book, account))
    logs = [log for log in receipt.decode_logs(m.pool.OrderSettled) if log.settler == account.address]
    outcomes = {}
    for log in logs:
        outcomes[OUTCOMES.get(log.outcome)] = outcomes.get(OUTCOMES.get(log.outcome), 0) + 1
    summary = ", ".join(f"{count} {name}" for name, count in outcomes.items())
    click.echo(
        f"Settled {len(logs)} order(s) in block {receipt.block_number} ({summary}); earned "
        f"{m.money(sum(log.settle_fee for log in logs))} in settle fees for {receipt.gas_used} gas."
    )
    return True


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
@click.option("--yes", is_flag=True, help="Send without asking.")
def claim(network, account, manifest, market, pool_address, yes):
    """Collect collateral a settlement could not send you."""
    m = load_market(network, manifest, market, pool_address)
    owed = m.pool.claimable(account)
    if not owed:
        click.echo(f"Nothing to claim: the pool owes {account.address} nothing.")
        return
    click.echo(f"Claim {m.money(owed)}.")
    confirm(yes)
    receipt = transact(lambda: m.pool.claim(sender=account))
    click.echo(f"Claimed {m.money(owed)} in block {receipt.block_number}.")


def slot_update_now(m: Market) -> list:
    """A pull market rebalances at the price of a recent slot: the update of the
    head block's slot ([] if it is proven already), which still serves a block or
    two later. Waits a moment when that slot's first price is not out yet."""
    oracle = ContractInstance(m.pool.oracle(), project.PythOracle.contract_type)
    try:
        source = hermes_source(Hermes(hermes_url(m.manifest)), oracle.price_id().hex().removeprefix("0x"))
    except RuntimeError as error:
        raise click.ClickException(str(error)) from error
    for _ in range(30):
        updates = current_slot_update(chain.blocks.head.timestamp, lambda slot: oracle.proven(slot)[0], source)
        if updates is not None:
            return updates
        time.sleep(1)  # the slot has just begun: its first price is seconds away
    raise click.ClickException("the price service has no price for the latest slot: is it running?")


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
@click.option("--yes", is_flag=True, help="Send without asking.")
def rebalance(network, account, manifest, market, pool_address, yes):
    """Rebalance the pool if it is due, for the keeper bounty (settling due orders first)."""
    m = load_market(network, manifest, market, pool_address)
    settled = 0
    while m.book.pending_orders() and settle_due(m, account, yes or settled > 0):  # the whole due backlog
        settled += 1
    if settled:
        click.echo("(Orders whose price is out settle before a rebalance.)")
    if m.pull:
        rebalance_pull(m, account, yes)
        return
    if not m.pool.rebalance_due():
        status = read_status(m.pool, m.collateral, m.book)
        raise click.ClickException(f"pool: rebalance not due: {status.why_not_due(chain.pending_timestamp)}")
    bounty = m.pool.rebalance.call(sender=account)  # it accrues by the second since the last one
    click.echo(f"Rebalance at price {fmt_wad(m.pool.oracle_price(), 2)} for a bounty of {m.money(bounty)}.")
    confirm(yes)
    receipt = transact(lambda: m.pool.rebalance(sender=account))
    click.echo(f"Done in block {receipt.block_number} (gas {receipt.gas_used}).")


def rebalance_pull(m: Market, account, yes: bool) -> None:
    """Proves a recent slot's price and rebalances in one transaction (PullRebalancer)."""
    address = (m.manifest or {}).get("contracts", {}).get("pull_rebalancer")
    if not address:
        raise click.ClickException("this manifest names no pull_rebalancer: pass the deployment's --manifest")
    rebalancer = ContractInstance(address, project.PullRebalancer.contract_type)
    pyth = partial_contract(ContractInstance(m.pool.oracle(), project.PythOracle.contract_type).pyth(), PYTH_FEE_ABI)

    def send(call: bool):
        updates = slot_update_now(m)
        fee = pyth.getUpdateFee([data for _, data in updates]) if updates else 0
        method = rebalancer.rebalance.call if call else rebalancer.rebalance
        return method(m.pool.address, updates, value=fee, sender=account)

    bounty = transact(lambda: send(call=True))
    click.echo(f"Rebalance at the current Pyth price for a bounty of {m.money(bounty)}.")
    confirm(yes)
    for attempt in range(3):
        try:
            receipt = transact(lambda: send(call=False))
            break
        except click.ClickException as error:
            # Mined too long after the price it brought: bring a newer slot's instead.
            if "prove a recent slot's price" not in str(error) or attempt == 2:
                raise
    [event] = receipt.decode_logs(m.pool.Rebalance)
    click.echo(f"Done in block {receipt.block_number} (gas {receipt.gas_used}) at price {fmt_wad(event.price, 2)}.")
