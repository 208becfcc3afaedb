"""Gas of every user-facing operation of the order flow, from real receipts on a
local Anvil, next to anchors measured in the same run (a plain snekmate ERC-20
transfer and a snekmate ERC-4626 deposit and redeem), where it goes, and each
contract's runtime size against the EIP-170 limit. Writes BENCHMARKS.md.

    make bench
"""

from __future__ import annotations

from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand
from ape.logging import logger
from eth_utils import keccak, to_checksum_address

from inverse.automation import log_struct
from inverse.constants import MAX_BATCH
from inverse.deploy import ETH_USD_ID, deploy_mock_system, deploy_upkeep, lens_of, order_book_of
from inverse.gas import CALL_ITSELF, Breakdown, breakdown, call_labels, intrinsic_gas
from inverse.orders import pending_orders, settlement_batch
from inverse.pull import pull_batch, recent_slot, signed_source
from inverse.wallet import sign_permit

USDC = 10**6
ANSWER = 2_000 * 10**8
BATCH = 20
EIP170_LIMIT = 24_576
DEPOSIT, REDEEM, TRANSFER = "snekmate ERC-4626 deposit", "snekmate ERC-4626 redeem", "snekmate ERC-20 transfer"

# Targets: a mint request against a standard vault deposit, and a batch settlement per order.
MINT_REQUEST_TARGET, MINT_REQUEST_STRETCH = 1.25, 1.10
SETTLE_PER_ORDER_TARGET = 35_000

# Split into parts from the trace: (column, receipt), the settlements inside the pool.
TRACED = ("request_mint (repeat)", "settle: 1 mint", f"settle: batch of {BATCH} mints")
# What any design pays: the transaction, the collateral moving, the state it
# must change (its first access and the writes, less what they give back), the
# events; a settlement also the round proof.
UNAVOIDABLE = (
    "intrinsic",
    "storage reads, cold, of slots then written",
    "call: collateral.transfer",
    "storage writes",
    "storage refund",
    "events",
    "call: oracle.order_rounds",
)

# SSTORE of a new slot (cold, zero to non-zero); reading then clearing one at
# settlement (cold read, write to zero, less the refund).
NEW_SLOT = 22_100
CLEAR_SLOT_NET = 2_100 + 2_900 - 4_800
# The Order struct stored whole: each field at its narrowest sane width (bits).
# The id is the mapping key.
ORDER_FIELD_BITS = {
    "requester": 160,
    "receiver": 160,
    "kind": 8,
    "amount": 120,  # the book's escrow cap
    "min_out": 128,  # the book's cap on a slippage bound
    "requested_at": 40,
    "not_before": 40,
    "phase": 16,
    "trade_fee": 64,
    "settle_fee": 64,
    "max_wait": 32,
}


def packed_slots(bits: dict[str, int]) -> list[list[str]]:
    """First-fit decreasing packing of fields into 256-bit slots."""
    slots: list[list[str]] = []
    free: list[int] = []
    for name, width in sorted(bits.items(), key=lambda item: -item[1]):
        slot = next((i for i, room in enumerate(free) if room >= width), None)
        if slot is None:
            slots.append([])
            free.append(256)
            slot = len(slots) - 1
        slots[slot].append(name)
        free[slot] -= width
    return slots


# The table's order: by the first prefix a name starts with, then as measured.
ROW_ORDER = (
    "request_mint (",
    "request_mint_with_permit",
    "approve + request_mint",
    "request_redeem",
    "request_lp_deposit",
    "request_lp_withdraw",
    "settle: 1",
    "settle: batch",
    "pull:",
    "rebalance",
    "checkUpkeep",
    "performUpkeep",
    "transfer",
    "permit",
)


def rank(name: str) -> int:
    return next((i for i, prefix in enumerate(ROW_ORDER) if name.startswith(prefix)), len(ROW_ORDER))


def receivers(count: int, tag: bytes) -> list[str]:
    """Addresses that have never held anything (20 non-zero bytes, like real ones)."""
    return [to_checksum_address(keccak(tag + bytes([i]))[-20:]) for i in range(count)]


class Bench:
    """One market on a fresh local chain, and the calls that move it."""

    def __init__(self):
        test = accounts.test_accounts
        self.owner, self.keeper, self.lp, self.holder, self.other, self.signer = test[:6]
        # First-time requesters: a mint, an LP deposit, a redeem and an LP withdrawal.
        self.new_minter, self.new_depositor, self.new_redeemer, self.new_withdrawer = test[6:10]
        system = deploy_mock_system(self.owner, leverages=(1,))
        self.system = system
        self.pool = next(iter(system.pools.values()))
        self.book = order_book_of(self.pool)
        self.lp_token = project.LpToken.at(self.pool.lp_token())
        self.feed, self.usdc, self.oracle = system.feed, system.collateral, system.oracle
        self.vault = self.owner.deploy(project.BenchVault, self.usdc)
        self.upkeep = deploy_upkeep(self.owner, self.pool, self.owner)  # paying a holder, as a keeper's
        # A missing round answers zeros instead of reverting: the off-chain round
        # search reads one past the latest, and a reverted call prints its trace.
        self.feed.set_missing_round_answers_zeros(True, sender=self.owner)
        self.far = 4_000_000_000  # a fixed deadline: the same calldata every run
        self.usdc.mint(self.keeper, USDC, sender=self.keeper)  # a keeper that has earned fees before
        for account in (self.lp, self.holder, self.other, self.new_minter, self.new_depositor):
            self.usdc.mint(account, 10**12, sender=account)
            self.usdc.approve(self.book, 2**256 - 1, sender=account)
            self.usdc.approve(self.vault, 2**256 - 1, sender=account)
        self.usdc.mint(self.signer, 10**12, sender=self.signer)

    def settle(self, limit: int = MAX_BATCH, publish: bool = True):
        """Publishes the next round after every pending order's T, then settles the
        due orders at the head (at most `limit`) as the keeper."""
        if publish:
            last = self.book.order(self.book.next_order() + self.book.pending_orders() - 1).not_before
            if chain.pending_timestamp <= last:
                chain.mine(timestamp=last + 1)
            self.feed.set_answer(ANSWER, sender=self.owner, gas=200_000)
        orders, round_ids = settlement_batch(self.book, self.feed, chain.pending_timestamp, limit=limit)
        assert orders, "bench: no order due"
        return self.book.settle(orders, round_ids, sender=self.keeper)

    def mint(self, account, assets=1_000 * USDC, receiver=None):
        return self.book.request_mint(assets, 0, receiver or account, self.far, sender=account)

    def lp_deposit(self, account, assets=1_000 * USDC, receiver=None):
        return self.book.request_lp_deposit(assets, 0, receiver or account, self.far, sender=account)

    def redeem(self, account, receiver=None):
        shares = lens_of(self.pool).preview_mint(100 * USDC)  # about 100 USDC of tokens
        return self.book.request_redeem(shares, 0, receiver or account, self.far, sender=account)

    def lp_withdraw(self, account, receiver=None):
        shares = self.lp_token.balanceOf(account) // 100
        return self.book.request_lp_withdraw(shares, 0, receiver or account, self.far, sender=account)

    def permit_mint(self, assets=1_000 * USDC):
        v, r, s = sign_permit(self.usdc, self.signer, self.book, assets + self.book.settle_fee(), self.far)
        return self.book.request_mint_with_permit(assets, 0, self.signer, self.far, v, r, s, sender=self.signer)


class PullBench:
    """A pull market (SPEC 3b) on the same chain: a mock Pyth, the adapter, the pool."""

    def __init__(self, b: Bench):
        self.b = b
        system = deploy_mock_system(b.owner, leverages=(1,), pull=True)
        self.system, self.oracle, self.rebalancer = system, system.oracle, system.rebalancer
        self.pool = next(iter(system.pools.values()))
        self.book = order_book_of(self.pool)
        self.usdc = system.collateral
        self.price = ANSWER
        self.source = signed_source(lambda t: self.price, ETH_USD_ID)
        for account in (b.lp, b.holder):
            self.usdc.mint(account, 10**12, sender=account)
            self.usdc.approve(self.book, 2**256 - 1, sender=account)

    def mint(self, account, assets=1_000 * USDC, receiver=None):
        return self.book.request_mint(assets, 0, receiver or account, self.b.far, sender=account)

    def settle(self):
        """Moves the clock to the last pending order's T, then settles what is due with the
        slots' updates, as the keeper does."""
        last = self.book.order(self.book.next_order() + self.book.pending_orders() - 1).not_before
        if chain.pending_timestamp <= last:
            chain.mine(timestamp=last)
        batch = pull_batch(
            pending_orders(self.book), lambda slot: self.oracle.proven(slot)[0], self.source, last, False
        )
        assert batch.due, "bench: no pull order due"
        return self.book.settle(
            batch.orders, batch.round_ids, batch.updates, value=len(batch.updates), sender=self.b.keeper
        )

    def rebalance(self):
        slot = recent_slot(chain.pending_timestamp)
        update = self.source(slot)
        return self.rebalancer.rebalance(self.pool, [(slot, update.data)], value=1, sender=self.b.keeper)


def measure_pull(b: Bench, receipts: dict, per_order: dict, sizes: dict) -> None:
    p = PullBench(b)

    def next_window():
        # The book keeps its shutdown fallback once a five-minute window (a write the
        # first fill of each pays): the rows below but one are within a window.
        now = chain.pending_timestamp
        chain.mine(timestamp=now - now % 300 + 301)

    next_window()
    p.book.request_lp_deposit(200_000 * USDC, 0, b.lp, b.far, sender=b.lp)
    p.mint(b.holder, 50_000 * USDC)
    p.settle()
    receipts["pull: request_mint (repeat)"] = p.mint(b.holder)
    receipts["pull: settle 1 mint (with its slot's proof)"] = p.settle()
    # Twenty mints in one slot, all priced by its one proof: requested in its first
    # second, on a clock held still (a slow machine would spread them over slots).
    fresh = receivers(BATCH, b"bench pull receiver")

    def twenty_in_one_slot():
        now = chain.pending_timestamp
        chain.mine(timestamp=now - now % 5 + 6)
        chain.provider.make_request("anvil_setBlockTimestampInterval", [0])
        try:
            for i in range(BATCH):
                p.mint(b.holder, receiver=fresh[i])
        finally:
            chain.provider.make_request("anvil_removeBlockTimestampInterval", [])

    twenty_in_one_slot()
    name = f"pull: settle batch of {BATCH} mints (one slot, one proof; first-time receivers)"
    receipts[name] = p.settle()
    per_order[name] = receipts[name].gas_used // BATCH
    twenty_in_one_slot()
    name = f"pull: settle batch of {BATCH} mints (one slot, one proof)"
    receipts[name] = p.settle()
    per_order[name] = receipts[name].gas_used // BATCH
    next_window()
    p.mint(b.holder)
    receipts["pull: settle 1 mint, the first fill of its five-minute window"] = p.settle()
    chain.mine(deltatime=86_400)
    receipts["pull: rebalance (time; proof and rebalance in one transaction)"] = p.rebalance()
    sizes |= {"PythOracle": len(chain.provider.web3.eth.get_code(p.oracle.address))}
    sizes |= {"PullRebalancer": len(chain.provider.web3.eth.get_code(p.rebalancer.address))}


def check_gas(b: Bench) -> int:
    """The gas of the upkeep's `checkUpkeep`, as Automation simulates it."""
    call = {"from": b.keeper.address, "to": b.upkeep.address, "data": b.upkeep.checkUpkeep.encode_input(b"")}
    return chain.provider.web3.eth.estimate_gas(call)


def measure_automation(b: Bench, gas: dict, receipts: dict, per_order: dict, fresh: list[str]) -> None:
    """Chainlink Automation alone: each order recorded from its log (the log trigger),
    then the due run settled by the custom-logic upkeep; and a perform that a keeper
    front-ran (it settled and rebalanced first), which is what the race costs the upkeep."""
    topic = keccak(text=b.book.contract_type.events["OrderRequested"].selector)

    def requested(receipt):
        [log] = [log for log in receipt.logs if bytes(log["topics"][0]) == topic]
        needed, data = b.upkeep.checkLog(log_struct(log, receipt.timestamp), b"")
        assert needed, "bench: the log trigger skipped an order"
        return b.upkeep.performUpkeep(data, sender=b.keeper)

    def settle():
        last = b.book.order(b.book.next_order() + b.book.pending_orders() - 1).not_before
        chain.mine(timestamp=max(last + 1, chain.pending_timestamp))
        b.feed.set_answer(ANSWER, sender=b.owner, gas=200_000)
        count = b.book.pending_orders()
        name = f"checkUpkeep: {count} order{'s' if count > 1 else ''} due (call)"
        gas[name] = check_gas(b)
        needed, data = b.upkeep.checkUpkeep(b"")
        assert needed, "bench: no order due for the upkeep"
        return b.upkeep.performUpkeep(data, sender=b.keeper)

    receipts["performUpkeep: record 1 order (log trigger)"] = requested(b.mint(b.holder, receiver=fresh[0]))
    receipts["performUpkeep: settle 1 mint"] = settle()
    for i in range(BATCH):
        requested(b.mint(b.holder, receiver=fresh[i]))
    name = f"performUpkeep: settle {BATCH} mints"
    receipts[name] = settle()
    per_order[name] = receipts[name].gas_used // BATCH
    # The race: a keeper settles and rebalances in the block before the upkeep's perform lands.
    chain.mine(deltatime=86_400)
    requested(b.mint(b.holder, receiver=fresh[0]))
    last = b.book.order(b.book.next_order()).not_before
    chain.mine(timestamp=max(last + 1, chain.pending_timestamp))
    b.feed.set_answer(ANSWER, sender=b.owner, gas=200_000)
    needed, data = b.upkeep.checkUpkeep(b"")
    assert needed, "bench: nothing for the upkeep"
    b.settle(publish=False)
    b.pool.rebalance(sender=b.keeper)
    receipts["performUpkeep: front-run (settled and rebalanced by another)"] = b.upkeep.performUpkeep(
        data, sender=b.keeper
    )


def measure() -> dict:
    b = Bench()
    gas: dict[str, int] = {}  # operation -> gas
    per_order: dict[str, int] = {}  # batch -> gas per order
    receipts: dict = {}

    # Seed: LP liquidity and holders; each repeat requester and the permit signer request once.
    b.lp_deposit(b.lp, 200_000 * USDC)
    b.lp_deposit(b.lp, 1_000 * USDC, receiver=b.new_withdrawer)
    b.mint(b.holder, 50_000 * USDC)
    b.mint(b.holder, 1_000 * USDC, receiver=b.new_redeemer)
    b.permit_mint()  # the signer's first permit also starts its nonce
    b.settle()

    # Requests from an empty queue, by requesters who have requested before, each kind
    # then settled alone; then the same by first-time requesters.
    for who in ("repeat", "first"):
        minter, depositor, redeemer, withdrawer = (
            (b.holder, b.lp, b.holder, b.lp)
            if who == "repeat"
            else (b.new_minter, b.new_depositor, b.new_redeemer, b.new_withdrawer)
        )
        # The LP deposit last: within a round it settles after the others (it is
        # held while its round goes on), so settled alone here it is the last.
        receipts[f"request_mint ({who})"] = b.mint(minter)
        receipts[f"request_redeem ({who})"] = b.redeem(redeemer)
        receipts[f"request_lp_withdraw ({who})"] = b.lp_withdraw(withdrawer)
        receipts[f"request_lp_deposit ({who})"] = b.lp_deposit(depositor)
        if who == "repeat":
            kinds = ("mint", "redeem", "lp_withdraw", "lp_deposit")
            for i, kind in enumerate(kinds):
                receipts[f"settle: 1 {kind}"] = b.settle(limit=1, publish=i == 0)
        else:
            b.settle()
    receipts["request_mint_with_permit (repeat, no approval)"] = b.permit_mint()
    b.settle()
    gas["approve + request_mint (repeat)"] = (
        b.usdc.approve(b.book, 1_000 * USDC + b.book.settle_fee(), sender=b.signer).gas_used + b.mint(b.signer).gas_used
    )
    b.settle()

    # Batches of 20: to receivers that never held (first time), then to the same
    # receivers again (they hold); mints, redeems, then the four kinds mixed.
    fresh = receivers(BATCH, b"bench receiver")
    for label, request in (
        ("mints", lambda i: b.mint(b.holder, receiver=fresh[i])),
        ("redeems", lambda i: b.redeem(b.holder, receiver=fresh[i])),
    ):
        for who in ("first-time receivers", "receivers hold"):
            for i in range(BATCH):
                request(i)
            name = f"settle: batch of {BATCH} {label}" + (f" ({who})" if who != "receivers hold" else "")
            receipts[name] = b.settle()
            per_order[name] = receipts[name].gas_used // BATCH
    mixed = (
        lambda i: b.mint(b.holder, receiver=fresh[i]),
        lambda i: b.redeem(b.holder, receiver=fresh[i]),
        lambda i: b.lp_deposit(b.lp, receiver=b.lp),
        lambda i: b.lp_withdraw(b.lp, receiver=fresh[i]),
    )
    for i in range(BATCH):
        mixed[i % 4](i)
    name = f"settle: batch of {BATCH} mixed (mint, redeem, LP deposit, LP withdraw)"
    receipts[name] = b.settle()
    per_order[name] = receipts[name].gas_used // BATCH

    # An LP deposit with a mint of its round behind it: the first settlement holds
    # it, the one that settles the mint hands it back and fills it after the mint.
    b.lp_deposit(b.lp)
    b.mint(b.holder)
    receipts["settle: 1 lp_deposit, held (a mint of its round behind it)"] = b.settle(limit=1)
    receipts["settle: that mint, then the held lp_deposit"] = b.settle(publish=False)

    # A void order: no round of its phase by T + max_wait, so it is refunded whole.
    order = b.mint(b.holder).return_value
    status = b.book.order(order)
    chain.mine(timestamp=status.not_before + b.book.max_wait() + 1)
    receipts["settle: 1 void mint (no round by T + max_wait)"] = b.settle(publish=False)

    # Rebalance (the queue is empty), the automation check, the token itself.
    chain.mine(deltatime=86_400)
    b.feed.set_answer(ANSWER, sender=b.owner, gas=200_000)
    gas["checkUpkeep (call)"] = check_gas(b)
    receipts["rebalance (time)"] = b.pool.rebalance(sender=b.keeper)
    b.feed.set_answer(1_600 * 10**8, sender=b.owner, gas=200_000)
    receipts["rebalance (threshold)"] = b.pool.rebalance(sender=b.keeper)
    chain.mine(deltatime=86_400)
    b.feed.set_answer(1_600 * 10**8, sender=b.owner, gas=200_000)
    receipts["performUpkeep (time)"] = b.upkeep.performUpkeep(b.upkeep.checkUpkeep(b"")[1], sender=b.keeper)
    measure_automation(b, gas, receipts, per_order, fresh)
    b.pool.transfer(b.other, 10**18, sender=b.holder)  # the receiver now holds some, as the anchor's does
    receipts["transfer (inverse token)"] = b.pool.transfer(b.other, 10**18, sender=b.holder)
    v, r, s = sign_permit(b.pool, b.holder, b.other, 10**18, b.far)
    receipts["permit (inverse token)"] = b.pool.permit(b.holder, b.other, 10**18, b.far, v, r, s, sender=b.other)
    pull_sizes: dict = {}
    measure_pull(b, receipts, per_order, pull_sizes)
    gas |= {name: receipt.gas_used for name, receipt in receipts.items()}
    gas = {name: gas[name] for name in sorted(gas, key=rank)}

    anchors = {}
    anchors[TRANSFER] = b.usdc.transfer(b.other, USDC, sender=b.holder).gas_used
    b.vault.deposit(1_000 * USDC, b.lp, sender=b.lp)
    anchors[DEPOSIT] = b.vault.deposit(1_000 * USDC, b.holder, sender=b.holder).gas_used
    anchors[REDEEM] = b.vault.redeem(b.vault.balanceOf(b.holder) // 2, b.holder, b.holder, sender=b.holder).gas_used

    web3 = chain.provider.web3
    names, selectors = call_labels(
        {"pool": b.pool, "book": b.book, "oracle": b.oracle, "collateral": b.usdc, "lp_token": b.lp_token}
    )
    names[b.feed.address.lower()] = "feed"
    selectors |= call_labels({"feed": b.feed})[1]
    pool_frame = (b.pool.address,)
    parts = {
        name: breakdown(web3, receipts[name].txn_hash, names, selectors, inside=pool_frame if "settle" in name else ())
        for name in TRACED
    }
    batch_calldata = bytes(web3.eth.get_transaction(receipts[f"settle: batch of {BATCH} mints"].txn_hash)["input"])
    single_calldata = bytes(web3.eth.get_transaction(receipts["settle: 1 mint"].txn_hash)["input"])
    calldata_per_order = (intrinsic_gas(batch_calldata) - intrinsic_gas(single_calldata)) // (BATCH - 1)
    sizes = {
        name: len(web3.eth.get_code(contract.address))
        for name, contract in (
            ("InversePool", b.pool),
            ("OrderBook", b.book),
            ("PoolLens", lens_of(b.pool)),
            ("ChainlinkOracle", b.oracle),
            ("LpToken", b.lp_token),
            ("Upkeep", b.upkeep),
        )
    } | pull_sizes
    return {
        "gas": gas,
        "per_order": per_order,
        "anchors": anchors,
        "parts": parts,
        "calldata_per_order": calldata_per_order,
        "sizes": sizes,
    }


NEAREST = {
    "request_mint": DEPOSIT,
    "approve + request_mint": DEPOSIT,
    "request_lp_deposit": DEPOSIT,
    "request_redeem": REDEEM,
    "request_lp_withdraw": REDEEM,
    "transfer": TRANSFER,
}


def target_of(name: str, gas: int, per: int | None, anchors: dict) -> str:
    if name.startswith("request_mint ("):
        ratio = gas / anchors[DEPOSIT]
        if ratio <= MINT_REQUEST_STRETCH:
            return f"meets {MINT_REQUEST_STRETCH:.2f}x stretch"
        if ratio <= MINT_REQUEST_TARGET:
            return f"meets {MINT_REQUEST_TARGET:.2f}x"
        return f"misses {MINT_REQUEST_TARGET:.2f}x by {gas - int(MINT_REQUEST_TARGET * anchors[DEPOSIT]):,}"
    if per is not None and "first-time" not in name and not name.startswith("performUpkeep"):
        limit = SETTLE_PER_ORDER_TARGET
        return f"meets {limit:,}/order" if per <= limit else f"misses {limit:,}/order by {per - limit:,}"
    return ""


def table(gas: dict, per_order: dict, anchors: dict) -> str:
    lines = [
        "| operation | gas | per order | nearest anchor | ratio | target |",
        "| --- | ---: | ---: | --- | ---: | --- |",
    ]
    for name, total in gas.items():
        anchor = next((a for key, a in NEAREST.items() if name.startswith(key)), None)
        ratio = f"{total / anchors[anchor]:.2f}x" if anchor else ""
        per = per_order.get(name)
        lines.append(
            f"| {name} | {total:,} | {'' if per is None else f'{per:,}'} | {anchor or ''} | {ratio} "
            f"| {target_of(name, total, per, anchors)} |"
        )
    for name, total in anchors.items():
        lines.append(f"| *anchor:* {name} | {total:,} | | | | |")
    return "\n".join(lines)


def size_table(sizes: dict) -> str:
    lines = ["| contract | runtime bytes | of EIP-170 (24,576) | headroom |", "| --- | ---: | ---: | ---: |"]
    for name, size in sizes.items():
        lines.append(f"| {name} | {size:,} | {size / EIP170_LIMIT:.0%} | {EIP170_LIMIT - size:,} |")
    return "\n".join(lines)


def bound(parts: Breakdown) -> int:
    return sum(gas for part, gas, _ in parts.rows() if part.startswith(UNAVOIDABLE))


def parts_table(parts: dict) -> str:
    """Each traced operation split into its parts, with the unavoidable ones
    summed into a lower bound; the batch also per order."""
    names = list(parts)
    batch = f"settle: batch of {BATCH} mints"
    rows: dict[str, list[str]] = {}
    for column, name in enumerate(names):
        for part, gas, count in parts[name].rows():
            cell = f"{gas:,}" + (f" ({count})" if count > 1 else "")
            rows.setdefault(part, [""] * (len(names) + 1))[column] = cell if gas else ""
            if name == batch and gas:
                rows[part][-1] = f"{gas / BATCH:,.0f}"
    header = [*names, f"{batch}, per order"]
    lines = ["| part | " + " | ".join(header) + " |", "| --- |" + " ---: |" * len(header)]
    for part, cells in rows.items():
        mark = "**" if part.startswith(UNAVOIDABLE) else ""
        lines.append(f"| {mark}{part}{mark} | " + " | ".join(cells) + " |")
    totals = [parts[name].gas_used for name in names]
    bounds = [bound(parts[name]) for name in names]
    totals.append(parts[batch].gas_used / BATCH)
    bounds.append(bound(parts[batch]) / BATCH)
    lines.append("| total (receipt) | " + " | ".join(f"{gas:,.0f}" for gas in totals) + " |")
    lines.append("| **lower bound** (bold rows) | " + " | ".join(f"{gas:,.0f}" for gas in bounds) + " |")
    lines.append(
        "| above the bound | "
        + " | ".join(f"{t - b:,.0f} ({(t - b) / t:.0%})" for t, b in zip(totals, bounds, strict=True))
        + " |"
    )
    return "\n".join(lines)


def commitment_saving(calldata_per_order: int, order_hash_gas: int) -> tuple[str, int]:
    """What one order would cost stored whole, against its one-slot commitment."""
    slots = packed_slots(ORDER_FIELD_BITS)
    request = (len(slots) - 1) * NEW_SLOT
    settle = (len(slots) - 1) * CLEAR_SLOT_NET - calldata_per_order - order_hash_gas
    layout = "; ".join(" + ".join(f"{field} {ORDER_FIELD_BITS[field]}" for field in slot) for slot in slots)
    text = (
        f"Stored whole, an order's fields at their narrowest sane widths pack into {len(slots)} slots "
        f"({layout}), the id being the key. A request would write {len(slots)} new slots instead of 1: "
        f"{request:,} gas more ({len(slots) - 1} x {NEW_SLOT:,}). At settlement the whole order would be "
        f"read and cleared ({len(slots) - 1} more slots at {CLEAR_SLOT_NET:,} net each, after the refund), "
        f"but the settler would not hand it back: the commitment costs about {calldata_per_order:,} gas of "
        f"calldata per order (measured: the batch of {BATCH} against one) and at most {order_hash_gas:,} of "
        "hashing (the commitment's and the mapping slots'). Net, hash commitments save about "
        f"{request + settle:,} gas per order over its life."
    )
    return text, request + settle


def cuts(data: dict) -> str:
    """The gas cuts still open, each estimated from this run's split."""
    request = data["parts"]["request_mint (repeat)"]
    balance_checks = sum(request.call_gas("collateral.balanceOf"))
    # An order's 13 words of calldata: non-zero bytes at 16 gas, zero bytes at 4.
    calldata = data["calldata_per_order"]
    non_zero = (calldata - 4 * 13 * 32) // 12
    packed = 16 * non_zero + 4 * (5 * 32 - non_zero)
    items = [
        (
            "The fee-on-transfer check (SPEC 7: `balanceOf` before and after `transferFrom`), only if "
            "the collateral were vetted at deployment instead; the first call's cold access to the token "
            "would move to `transferFrom` (2,600 less 100)",
            balance_checks - 2_500,
        ),
        (
            "Settlement calldata: an order is handed back as 12 full words and its round id as one; "
            "packed into 5 words the zero padding goes, at 4 gas a zero byte (decoding costs some back)",
            calldata - packed,
        ),
        (
            "A filled mint or redeem logs the pool's `Mint` or `Redeem` event beside `OrderSettled`, "
            "which carries the same figures; dropping it (LOG3, 4 data words)",
            375 + 3 * 375 + 8 * 4 * 32,
        ),
    ]
    return "\n".join(f"* {text}: about **{saving:,}** gas." for text, saving in items)


def report(data: dict) -> str:
    gas, per_order, anchors, parts = data["gas"], data["per_order"], data["anchors"], data["parts"]
    request, single, batch = (parts[name] for name in TRACED)
    deposit = anchors[DEPOSIT]
    mint = gas["request_mint (repeat)"]
    batch_per = per_order[f"settle: batch of {BATCH} mints"]
    worst_batch = max(
        per for name, per in per_order.items() if "first-time" not in name and not name.startswith("performUpkeep")
    )
    hash_per_order = batch.hash_gas // BATCH
    first_time = per_order[f"settle: batch of {BATCH} mints (first-time receivers)"] - batch_per
    saving_text, _ = commitment_saving(data["calldata_per_order"], hash_per_order)
    execute_itself = single.call_gas("pool.execute" + CALL_ITSELF)
    return (
        "# Gas benchmark\n\n"
        "Regenerated by `make bench`: gas from real receipts on a local Anvil (6-decimal mock USDC,\n"
        "-1x market, defaults of SPEC 6 and 7), each operation next to its nearest anchor measured in the\n"
        "same run. Every flow is an order (SPEC 3): a request, then a settlement at the first round after\n"
        "its T. Requests start from an empty queue; a repeat requester has requested before, a first-time\n"
        "one never has. A settlement publishes the round first (not counted). Batch rows give the whole\n"
        "transaction and the gas per order; their receivers already hold what they get, except where\n"
        "marked first-time. `checkUpkeep` is a call: its figure is the gas estimate. Rows `pull:` are a\n"
        "pull market (SPEC 3b) on the mock Pyth: a settlement brings its slot's update and pays Pyth's fee\n"
        "(1 wei); Pyth's real contract verifies a Wormhole message per update, which costs more. Rows\n"
        "`checkUpkeep:` and `performUpkeep:` are the market's `Upkeep` under Chainlink Automation alone: a\n"
        "record is its log trigger's perform for one order (paid by the upkeep's LINK, on top of the\n"
        "settlement), a check finds the due run and its rounds on-chain (Automation simulates it; its\n"
        "limit is 10,000,000 gas), and a front-run perform is what a keeper settling and rebalancing\n"
        "first costs the upkeep.\n\n" + table(gas, per_order, anchors) + "\n\n## Where the targets stand\n\n"
        f"* A mint request: {mint:,} gas, {mint / deposit:.2f}x the ERC-4626 deposit ({deposit:,}); target\n"
        f"  {MINT_REQUEST_TARGET:.2f}x ({int(MINT_REQUEST_TARGET * deposit):,}), stretch {MINT_REQUEST_STRETCH:.2f}x"
        f" ({int(MINT_REQUEST_STRETCH * deposit):,}). Lower bound of this design: {bound(request):,}"
        f" ({bound(request) / deposit:.2f}x).\n"
        f"* Settlement in a batch of {BATCH}: {batch_per:,} gas per order (mints), {worst_batch:,} at the"
        f" worst batch\n  measured (receivers holding); target {SETTLE_PER_ORDER_TARGET:,}. Lower bound:"
        f" {bound(batch) / BATCH:,.0f} per order.\n"
        f"  A receiver that never held pays for its new balance slot: {first_time:,} more per order.\n\n"
        "## Code size\n\n"
        "Runtime code read from the deployed contracts, against the EIP-170 limit.\n\n"
        + size_table(data["sizes"])
        + "\n\n## Where the gas goes\n\n"
        "Split from the node's opcode trace (`inverse/gas.py`): each contract's own storage reads and\n"
        "writes, hashing, events and lock by opcode; each external call by all the gas it took (access,\n"
        "the callee's execution); intrinsic gas and the refund from the receipt. A settlement is split\n"
        "inside the pool as well (the book's `execute` call keeps only its own cost). The bold rows are\n"
        "what any design pays: the transaction, the collateral moving, the state writes (less what they\n"
        "give back), the events and, for a settlement, the round proof.\n\n" + parts_table(parts) + "\n\n"
        "What is above the bound:\n\n"
        "* A request's reads outside the book's own storage: the feed's phase (read from the feed itself,\n"
        "  not through the oracle adapter: about 3,150 gas less; the pool's terms are pushed to the book\n"
        "  when they change, so a request reads one word of its own), and the\n"
        "  fee-on-transfer check (SPEC 7: `balanceOf` before and\n"
        "  after `transferFrom`; most of the first call is the cold access to the token that\n"
        "  `transferFrom` would otherwise pay).\n"
        "* The hash commitment itself is cheap: the order's hash is a few hundred gas of hashing and\n"
        "  encoding, and the event that carries the order (`OrderRequested`, 3 topics and 9 words) is\n"
        "  about 4,200 of the events row, which a wallet needs anyway.\n"
        "* A settlement proves each order's round in one call to the oracle for the batch (two round\n"
        "  reads for the first order of a round; an order behind it that shares the round is checked\n"
        "  against that round's data alone), checks the commitment, and pays the entry into the pool"
        f" ({execute_itself[0]:,} in a single settlement).\n"
        "* Computation: calldata decoding of the orders, checked arithmetic of the NAV, fee and backing rule.\n\n"
        "## Hash commitments against storing orders whole\n\n" + saving_text + "\n\n"
        "## Cuts that remain possible\n\n"
        "Estimated from this run's split, per request or per order settled:\n\n"
        + cuts(data)
        + "\n\nBeyond these, settling once per round with lazy claims (SPEC 3; Tracer, Perennial) would take\n"
        "each receiver's transfer and balance write out of the settlement.\n"
    )


@click.command(cls=ConnectedProviderCommand)
@click.option("--output", default="BENCHMARKS.md", show_default=True)
def cli(output):
    """(Project tooling, `make bench`.) Gas from receipts and code sizes: BENCHMARKS.md."""
    logger.set_level("WARNING")  # one line per transaction would bury the tables
    data = measure()
    click.echo(
        table(data["gas"], data["per_order"], data["anchors"])
        + "\n\n"
        + size_table(data["sizes"])
        + "\n\n"
        + parts_table(data["parts"])
    )
    Path(output).write_text(report(data))
