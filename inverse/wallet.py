"""What a holder or LP does, as the CLI and the demo both do it: preview, bound the
slippage, pay by permit where the collateral takes one (else approve only what is
missing), send; with next-price orders, also find the order, its settlement, and
what is due for settling."""

from __future__ import annotations

from dataclasses import dataclass, field

import click
from ape import chain, project
from ape.contracts import ContractInstance
from eip712.messages import EIP712Domain, EIP712Message
from eth_pydantic_types import abi

from .constants import (
    ORDER_LP_DEPOSIT,
    ORDER_MINT,
    ORDER_REDEEM,
    OUTCOME_PARTIAL,
    OUTCOME_REFUNDED,
    WAD,
)
from .deploy import _ERC20_ABI, PYTH_FEE_ABI, ZERO_ADDRESS, partial_contract
from .hermes import Hermes, hermes_url
from .orders import (
    Order,
    RawFeed,
    book_pool_is_shutdown,
    order_from_log,
    paged_logs,
    pending_orders,
    raw_view,
    requested_orders,
    settlement_batch,
)
from .pull import hermes_source, pull_batch, update_fee

# Default slippage bound on previews: 0.5%.
DEFAULT_SLIPPAGE_BPS = 50
# Default time a signed transaction stays valid.
DEFAULT_DEADLINE_SECONDS = 20 * 60


def _view_fn(name: str, inputs: list, output: str) -> dict:
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [{"name": f"arg{i}", "type": kind} for i, kind in enumerate(inputs)],
        "outputs": [{"name": "", "type": output}],
    }


_ALLOWANCE_ABI = _ERC20_ABI + [
    _view_fn("allowance", ["address", "address"], "uint256"),
    {
        # No return value in the ABI: it also fits USDT-style tokens.
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [],
    },
]

# What a wallet needs of an EIP-2612 token.
PERMIT_ABI = [
    _view_fn("name", [], "string"),
    _view_fn("version", [], "string"),
    _view_fn("nonces", ["address"], "uint256"),
    _view_fn("DOMAIN_SEPARATOR", [], "bytes32"),
    {
        "type": "function",
        "name": "eip712Domain",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": name, "type": kind}
            for name, kind in (
                ("fields", "bytes1"),
                ("name", "string"),
                ("version", "string"),
                ("chainId", "uint256"),
                ("verifyingContract", "address"),
                ("salt", "bytes32"),
                ("extensions", "uint256[]"),
            )
        ],
    },
]


def with_slippage(preview: int, slippage_bps: int) -> int:
    """The least an order previewed at `preview` may get: the preview less the
    slippage, rounded down but never to 0 while the preview is above 0 (a bound of
    0 takes any price)."""
    if preview <= 0:
        return 0
    return max(preview * (10_000 - slippage_bps) // 10_000, 1)


def deadline(seconds: int = DEFAULT_DEADLINE_SECONDS) -> int:
    return chain.blocks.head.timestamp + seconds


def _payment(collateral: str, spender, account, assets: int) -> tuple[str, EIP712Domain | None]:
    """How a request gets the book its collateral: "allowance" (already approved),
    "permit" (a signature, no extra transaction) or "approve" (an extra transaction
    first, for collateral without EIP-2612); with the permit domain for "permit"."""
    if partial_contract(collateral, _ALLOWANCE_ABI).allowance(account, spender) >= assets:
        return "allowance", None
    domain = permit_domain(collateral)
    return ("permit", domain) if domain else ("approve", None)


# ---------------------------------------------------------------- orders


def order_book(pool) -> ContractInstance:
    return ContractInstance(pool.order_book(), project.OrderBook.contract_type)


def lens(pool) -> ContractInstance:
    """The pool's previews (`preview_mint`, `max_mint`, ...)."""
    return ContractInstance(pool.lens(), project.PoolLens.contract_type)


def feed_of(pool) -> RawFeed:
    """The pool's Chainlink feed, read with plain calls: asking for a round that does
    not exist yet is routine here, and ape would print a call trace for each revert."""
    return RawFeed(ContractInstance(pool.oracle(), project.ChainlinkOracle.contract_type).feed())


def how_to_pay_order(pool, book, account, assets: int) -> str:
    """How a mint or LP deposit request pays the book `assets` plus the settle fee:
    "allowance", "permit" or "approve" (as `how_to_pay`)."""
    return _payment(pool.collateral(), book, account, assets + book.settle_fee())[0]


def deadline_seconds(manifest: dict | None) -> int:
    """How long a request may wait to be mined, in chain time: the manifest's
    `request_deadline_seconds` where its chain's clock runs fast (the playground's
    runs an hour a round), else DEFAULT_DEADLINE_SECONDS."""
    return int((manifest or {}).get("request_deadline_seconds") or DEFAULT_DEADLINE_SECONDS)


def request_entry(
    kind: int, pool, book, account, assets: int, min_out: int, receiver=None, seconds: int = DEFAULT_DEADLINE_SECONDS
):
    """Requests a mint (ORDER_MINT) or LP deposit of `assets`: the book takes them
    plus the settle fee, by permit where the collateral takes one, else after
    approving what is missing; valid for `seconds` of chain time. Returns the receipt."""
    until = deadline(seconds)
    receiver = receiver or account
    collateral = pool.collateral()
    total = assets + book.settle_fee()
    if kind == ORDER_MINT:
        plain, with_permit = book.request_mint, book.request_mint_with_permit
    else:
        plain, with_permit = book.request_lp_deposit, book.request_lp_deposit_with_permit
    way, domain = _payment(collateral, book, account, total)
    if way == "permit":
        token = partial_contract(collateral, PERMIT_ABI)
        v, r, s = sign_permit(token, account, book, total, until, domain)
        return with_permit(assets, min_out, receiver, until, v, r, s, sender=account)
    if way == "approve":
        partial_contract(collateral, _ALLOWANCE_ABI).approve(book, total, sender=account)
    return plain(assets, min_out, receiver, until, sender=account)


def request_exit(
    kind: int, book, account, amount: int, min_out: int, receiver=None, seconds: int = DEFAULT_DEADLINE_SECONDS
):
    """Requests a redeem (ORDER_REDEEM) of `amount` tokens or an LP withdrawal of
    `amount` LP shares, valid for `seconds` of chain time. Returns the receipt."""
    method = book.request_redeem if kind == ORDER_REDEEM else book.request_lp_withdraw
    return method(amount, min_out, receiver or account, deadline(seconds), sender=account)


def requested_order(book, receipt) -> Order | None:
    """The order a request made (None when it settled at once, after a shutdown)."""
    logs = receipt.decode_logs(book.OrderRequested)
    return order_from_log(logs[0]) if logs else None


def settlement_of(pool, order_id: int, start_block: int):
    """The pool's `OrderSettled` event of `order_id`, or None while it is pending."""
    logs = paged_logs(
        lambda first, last: pool.OrderSettled.range(first, last + 1, search_topics={"order_id": order_id}),
        start_block,
        chain.blocks.head.number,
    )
    return next(iter(logs), None)


WIDER_BOUND = "ask again with a wider slippage bound (--slippage 1.5)"


def refund_reason(order: Order, log, decimals: int) -> str | None:
    """Why a settled order got less than it asked (refunded, or partly filled) and
    what to do next, in a user's words; None when it was filled or void (a void
    order's words say why already). `log`: its `OrderSettled`; `decimals`: the
    collateral's."""
    if log.outcome not in (OUTCOME_REFUNDED, OUTCOME_PARTIAL):
        return None
    from .status import fmt_units, fmt_wad

    scale = 10 ** (36 - decimals)  # tokens * NAV / scale = collateral
    nav = fmt_wad(log.nav, 6)
    if order.kind == ORDER_MINT:
        if log.nav == 0:
            return "the NAV was 0 at its price: the market takes no mints until it restarts"
        fee = -(-order.amount * order.trade_fee // WAD)
        tokens = (order.amount - fee) * scale // log.nav
        if log.outcome == OUTCOME_REFUNDED and tokens < order.min_out:
            return (
                f"at its price the NAV was {nav} per token, so it would have got {fmt_wad(tokens, 6)} tokens; "
                f"your bound was {fmt_wad(order.min_out, 6)}: {WIDER_BOUND}"
            )
        part = "only part of it (the rest came back)" if log.outcome == OUTCOME_PARTIAL else "none of it"
        return f"the LPs' backing had room for {part} at its price: see 'mint capacity' in status, or try later"
    if order.kind == ORDER_REDEEM:
        worth = fmt_units(order.amount * log.nav // scale, decimals)
        if order.min_out:
            return (
                f"at its price the NAV was {nav}, so the tokens were worth {worth} before fees; your bound was "
                f"{fmt_units(order.min_out, decimals)}: {WIDER_BOUND}"
            )
        return f"the tokens were worth {worth} at its price, less than the settle fee: redeem a larger amount"
    if order.kind == ORDER_LP_DEPOSIT:
        return f"at its price's LP value it would have got fewer LP shares than your bound: {WIDER_BOUND}"
    if log.outcome == OUTCOME_PARTIAL:
        return (
            "the backing rule (holders' tokens stay backed) let LPs take only part of it at its price; "
            "the rest of your shares came back: withdraw them later"
        )
    return (
        "the backing rule (holders' tokens stay backed) or your slippage bound stopped it at its price: "
        f"see 'LP value' and 'inverse value' in status, or {WIDER_BOUND}"
    )


def account_orders(pool, book, account, start_block: int) -> list[tuple[Order, object]]:
    """Every order requested by `account` or to it since `start_block` (every order
    when `account` is None), oldest first, each with its `OrderSettled` event (None
    while pending)."""
    address = getattr(account, "address", account)
    mine = [o for o in requested_orders(book, start_block) if address is None or address in (o.requester, o.receiver)]
    if not mine:
        return []
    head = chain.blocks.head.number
    logs = paged_logs(lambda first, last: pool.OrderSettled.range(first, last + 1), start_block, head)
    settled = {log.order_id: log for log in logs}
    return [(order, settled.get(order.id)) for order in mine]


@dataclass
class Settlement:
    """What `book.settle` takes to settle the due orders now: the orders, their
    round ids, and on a pull market the slots' updates and Pyth's fee (wei)."""

    orders: list
    round_ids: list
    updates: list = field(default_factory=list)
    value: int = 0

    @property
    def ids(self) -> list[int]:
        return [order[0] for order in self.orders]

    def send(self, book, account):
        updates = [self.updates] if self.updates else []
        return book.settle(self.orders, self.round_ids, *updates, value=self.value, sender=account)


def due_settlement(pool, book, start_block: int, manifest: dict | None = None) -> Settlement:
    """The due orders at the head of `book` and what settling them takes (no orders
    if none is due). A pull market's updates come from Hermes (`hermes_url`)."""
    if not book.pull():
        return Settlement(*settlement_batch(book, feed_of(pool), chain.blocks.head.timestamp, start_block))
    oracle = ContractInstance(pool.oracle(), project.PythOracle.contract_type)
    source = hermes_source(Hermes(hermes_url(manifest)), oracle.price_id().hex().removeprefix("0x"))
    shut = bool(book_pool_is_shutdown(book))
    batch = pull_batch(
        pending_orders(book, start_block), lambda s: oracle.proven(s)[0], source, chain.blocks.head.timestamp, shut
    )
    fee = update_fee(partial_contract(oracle.pyth(), PYTH_FEE_ABI), batch.updates)
    return Settlement(batch.orders, batch.round_ids, batch.updates, fee)


class Permit(EIP712Message):
    """EIP-2612 `Permit`: what the owner signs (the domain is the token's own)."""

    owner: abi.address
    spender: abi.address
    value: abi.uint256
    nonce: abi.uint256
    deadline: abi.uint256


def permit_domain(token_address: str) -> EIP712Domain | None:
    """The token's EIP-712 domain if it takes EIP-2612 permits, else None. The name
    and version come from ERC-5267 `eip712Domain()` when the token has it, else
    from `name()` and `version()` (or "1"); either way they must reproduce the
    token's own `DOMAIN_SEPARATOR()`, so a signature is never made for a domain
    the token would not accept."""
    token = partial_contract(token_address, PERMIT_ABI)
    separator = _view(token.DOMAIN_SEPARATOR)
    if separator is None or _view(token.nonces, ZERO_ADDRESS) is None:
        return None
    declared = _view(token.eip712Domain)
    if declared is not None:
        name, version = declared[1], declared[2]
    else:
        name, version = _view(token.name), _view(token.version) or "1"
    domain = EIP712Domain(name=name, version=version, chainId=chain.chain_id, verifyingContract=token_address)
    return domain if bytes(domain.separator) == bytes(separator) else None


def sign_permit(
    token, owner, spender, value: int, deadline: int, domain: EIP712Domain | None = None
) -> tuple[int, bytes, bytes]:
    """EIP-2612 signature (v, r, s) of `owner` letting `spender` take `value` of
    `token` until `deadline`, in the token's `domain` (looked up if not given). Any
    ape account signs it (a keyfile account shows the domain and fields and asks first)."""
    domain = domain or permit_domain(token.address)
    if domain is None:
        raise ValueError(f"{token.address} takes no EIP-2612 permit")
    permit = Permit(
        owner=owner.address,
        spender=getattr(spender, "address", spender),
        value=value,
        nonce=token.nonces(owner),
        deadline=deadline,
        eip712_domain=domain,
    )
    signature = owner.sign_message(permit)
    if signature is None:
        raise click.Abort("permit not signed")
    # r and s are integers as bytes: a short one is missing leading zeros.
    return signature.v, bytes(signature.r).rjust(32, b"\0"), bytes(signature.s).rjust(32, b"\0")


def _view(method, *args):
    """A view's answer, or None when the contract has no such function."""
    try:
        return method(*args)
    except Exception:  # a revert, no code, an empty or undecodable answer: all mean "not there"
        return None


_UPDATE_PRICE_FEEDS_ABI = PYTH_FEE_ABI + [
    {
        "type": "function",
        "name": "updatePriceFeeds",
        "stateMutability": "payable",
        "inputs": [{"name": "updateData", "type": "bytes[]"}],
        "outputs": [],
    },
]


def refresh_pull_price(pool, account, manifest: dict | None = None):
    """On a pull market whose price on-chain is too old for a preview, brings
    Hermes's latest price to Pyth's contract (`updatePriceFeeds`, paying its fee).
    Returns the receipt, or None when nothing was needed. Nothing is settled or
    rebalanced at that price: it only lets the views preview at a current one."""
    if not order_book(pool).pull():
        return None
    try:
        raw_view(pool.address, "oracle_price()", ["uint256"])()
        return None
    except ValueError as error:  # a bare call: no trace printed for this routine revert
        if not any(f"oracle: {reason}'" in str(error) for reason in ("stale price", "no price")):
            raise
    oracle = ContractInstance(pool.oracle(), project.PythOracle.contract_type)
    updates = Hermes(hermes_url(manifest)).latest([oracle.price_id().hex().removeprefix("0x")])
    pyth = partial_contract(oracle.pyth(), _UPDATE_PRICE_FEEDS_ABI)
    return pyth.updatePriceFeeds(updates.data, value=pyth.getUpdateFee(updates.data), sender=account)
