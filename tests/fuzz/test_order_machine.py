"""Stateful fuzzing of one next-price market on Anvil, held to `inverse.model.PoolModel`
to the wei.

Hypothesis drives random sequences of requests of every kind by several actors (bad
ones too, which must revert with the model's reason and change nothing), oracle
rounds (normal, late, a held transmission whose `startedAt` is before the requests,
invalid answers, a phase change, the feed reverting for a while), time passing past
orders' expiry, settlement in batches by different actors at different times (through
`inverse.orders.settlement_batch`, as the keeper does), settlement with too little
gas, competing settlers, rebalances and shutdown. After every step every number the contracts expose must equal the
model's, and the pool must be solvent.

An order's amounts do not depend on who settles it or when, checked two ways:
`PoolModel.settle` prices each order from its round alone (the first qualifying round
of its phase in the feed's history) and asserts that the round the settler named
gives the same; and `settle_is_time_independent` settles the same orders twice from one
chain state, by different actors at different times with later rounds published in
between, and compares the `OrderSettled` events.

Transactions go through raw JSON-RPC (ape is much slower per call); each example
starts from a snapshot of the same deployment and restores it in `teardown`.
"""

import os
import time
from collections import Counter
from pathlib import Path

import pytest
from ape import chain
from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address
from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from web3.exceptions import ContractLogicError as Web3ContractLogicError

from inverse.constants import (
    MAX_BATCH,
    MAX_MANAGEMENT_FEE,
    MAX_SETTLE_FEE_UNITS,
    MAX_TRADE_FEE,
    MIN_MAX_WAIT,
    MIN_MIN_DELAY,
    MIN_PARAMETER_DELAY,
    ORDER_PARAMETER_NAMES,
    WAD,
    default_threshold,
)
from inverse.deploy import deploy_mock_system, order_book_of
from inverse.model import (
    ORDER_LP_DEPOSIT,
    ORDER_LP_WITHDRAW,
    ORDER_MINT,
    ORDER_REDEEM,
    ORDER_SHUTDOWN,
    OUTCOME_VOID,
    PHASE_SHIFT,
    OracleModel,
    Order,
    Overflow,
    PoolModel,
    Revert,
    Settled,
    ceil_div,
)
from inverse.orders import settlement_batch
from inverse.status import read_parameters
from tests.conftest import FUZZ_SUMMARY
from tests.fuzz.chain_views import BatchReader, RawFeed

ZERO = "0x" + "00" * 20
FEED_DECIMALS = 8
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
GAS = 5_000_000
ORDER_TYPE = "(uint256,uint256,address,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
PARAMS_TYPE = "(" + ",".join(["uint256"] * 11) + ")"
SETTLED_TOPIC = keccak(
    text="OrderSettled(uint256,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
)
REQUESTED_TOPIC = keccak(
    text="OrderRequested(uint256,address,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
)
REBALANCE_TOPIC = keccak(text="Rebalance(address,uint8,uint256,uint256,uint256,uint256)")
CI_EXAMPLES, CI_STEPS = 22, 30
KINDS = {"mint": ORDER_MINT, "redeem": ORDER_REDEEM, "lp_deposit": ORDER_LP_DEPOSIT, "lp_withdraw": ORDER_LP_WITHDRAW}

# What the runs did, for the summary at the end of the session.
RUN = Counter()
OUTCOMES = Counter()


def calldata(signature: str, types: list, args: list) -> bytes:
    return function_signature_to_4byte_selector(signature) + encode(types, args)


def settle_data(orders: list, round_ids: list) -> bytes:
    structs = [tuple(o) for o in orders]
    return calldata(f"settle({ORDER_TYPE}[],uint256[])", [f"{ORDER_TYPE}[]", "uint256[]"], [structs, round_ids])


def settled_events(receipt, pool: str) -> list[Settled]:
    out = []
    for log in receipt["logs"]:
        if log["address"].lower() != pool.lower() or bytes(log["topics"][0]) != SETTLED_TOPIC:
            continue
        order_id = int.from_bytes(log["topics"][1], "big")
        settler = to_checksum_address(bytes(log["topics"][2])[-20:])
        values = decode(["uint256"] * 8, bytes(log["data"]))
        out.append(Settled(order_id, settler, *values))
    return out


def requested_event(receipt, book: str) -> Order:
    [log] = [
        lg
        for lg in receipt["logs"]
        if lg["address"].lower() == book.lower() and bytes(lg["topics"][0]) == REQUESTED_TOPIC
    ]
    order_id = int.from_bytes(log["topics"][1], "big")
    requester = to_checksum_address(bytes(log["topics"][2])[-20:])
    receiver = to_checksum_address(bytes(log["topics"][3])[-20:])
    kind, amount, min_out, requested_at, not_before, phase, trade_fee, settle_fee, max_wait = decode(
        ["uint256"] * 9, bytes(log["data"])
    )
    return Order(
        order_id,
        kind,
        requester,
        receiver,
        amount,
        min_out,
        requested_at,
        not_before,
        phase,
        trade_fee,
        settle_fee,
        max_wait,
    )


class OrderMachine(RuleBasedStateMachine):
    """One market; `system`, `actors`, `owner`, `guardian`, `keeper` are set by the test."""

    system = None
    actors = ()
    owner = guardian = keeper = None
    decimals = 6

    def __init__(self):
        super().__init__()
        self.snapshot = chain.snapshot()
        self.web3 = chain.provider.web3
        s = self.system
        pool = self.pool_contract = s.pools[next(iter(s.pools))]
        self.book_contract = order_book_of(pool)
        self.pool, self.book = pool.address, self.book_contract.address
        self.lp = pool.lp_token()
        self.feed, self.collateral = s.feed.address, s.collateral.address
        self.unit = 10**self.decimals
        self.start_block = chain.blocks.head.number
        self.head_time = chain.blocks.head.timestamp
        self.now = self.head_time + 1
        self.settlers = (*self.actors, self.keeper)
        self.raw_feed = RawFeed(self.web3, self.feed)
        self.holders = [a.address for a in self.settlers] + [self.pool]
        self.model = self._model_from_chain()
        self.views, self.priced_views = self._build_views()
        self.steps = 0

    def teardown(self):
        chain.restore(self.snapshot)
        RUN["examples"] += 1

    # ------------------------------------------------------------ plumbing

    def _model_from_chain(self) -> PoolModel:
        s, pool = self.system, self.pool_contract
        round_id, answer, started, updated, _ = s.feed.latestRoundData()
        oracle = OracleModel(feed_decimals=FEED_DECIMALS, max_age=s.oracle.max_age(), phase=round_id >> PHASE_SHIFT)
        oracle._set_round(round_id, answer, started, updated)
        model = PoolModel(
            leverage=pool.leverage(),
            collateral_decimals=self.decimals,
            oracle=oracle,
            pool=self.pool,
            lp_token=self.lp,
            book=self.book,
            owner=self.owner.address,
            guardian=self.guardian.address,
            reference_price=pool.reference_price(),
            reference_nav=pool.reference_nav(),
            last_rebalance=pool.last_rebalance(),
            fee_time=pool.fee_time(),
            total_assets=pool.total_assets(),
            parameter_delay=pool.parameter_delay(),
            **read_parameters(pool),
        )
        for account in (*self.settlers, self.owner):
            model.collateral[account.address] = s.collateral.balanceOf(account)
        model.collateral[self.pool] = s.collateral.balanceOf(self.pool)
        assert pool.totalSupply() == 0 and self.book_contract.next_order() == 1
        return model

    def _build_views(self) -> tuple[BatchReader, BatchReader]:
        pool, lp, book, coll = self.pool, self.lp, self.book, self.collateral
        reader = BatchReader(self.web3)
        for name in ("total_assets", "totalSupply", "reference_price", "reference_nav", "last_rebalance"):
            reader.add(name, pool, f"{name}()")
        for name in ("fee_time", "total_claimable"):
            reader.add(name, pool, f"{name}()")
        for name in ("paused", "is_shutdown", "shutdown_requested", "rebalance_due"):
            reader.add(name, pool, f"{name}()", out="bool")
        reader.add("lp_supply", lp, "totalSupply()")
        reader.add("escrowed", book, "escrowed()")
        reader.add("next_order", book, "next_order()")
        reader.add("pending_orders", book, "pending_orders()")
        reader.add("head", book, "head()", out="(bool,uint256,uint256)")
        reader.add("terms", book, "terms()", out="(bool,bool,uint256,uint256,uint256,uint256,uint256,uint256)")
        reader.add("parameters", pool, "parameters()", out=PARAMS_TYPE)
        reader.add("parameters_ready_at", pool, "parameters_ready_at()")
        # Claims stay at 0 here (the mock collateral refuses nobody): `total_claimable`
        # covers them. Every call costs a few ms on Anvil, so only what can change.
        for address in self.holders:
            reader.add(f"bal:{address}", pool, "balanceOf(address)", [address], ["address"])
            reader.add(f"lp:{address}", lp, "balanceOf(address)", [address], ["address"])
            reader.add(f"coll:{address}", coll, "balanceOf(address)", [address], ["address"])
        priced = BatchReader(self.web3)
        for name in ("nav", "inverse_value", "lp_value", "max_mint", "max_lp_withdraw"):
            priced.add(name, pool, f"{name}()")
        priced.add("preview_mint", pool, "preview_mint(uint256)", [1_000 * self.unit], ["uint256"])
        priced.add("preview_redeem", pool, "preview_redeem(uint256)", [10**21], ["uint256"])
        priced.add("preview_lp_deposit", pool, "preview_lp_deposit(uint256)", [1_000 * self.unit], ["uint256"])
        priced.add("preview_lp_withdraw", pool, "preview_lp_withdraw(uint256)", [10**21], ["uint256"])
        return reader, priced

    def _rpc(self, method, params):
        response = self.web3.provider.make_request(method, params)
        assert "error" not in response, response
        return response.get("result")

    def send(self, to: str, data: bytes, sender: str, gas: int = GAS):
        """A transaction mined at `self.now`; returns its receipt (status 0 or 1)."""
        self._rpc("evm_setNextBlockTimestamp", [self.now])
        tx = {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(gas), "gasPrice": hex(10**10)}
        tx_hash = self._rpc("eth_sendTransaction", [tx])
        # Anvil answers before it has mined the block: poll briefly for the receipt.
        for _ in range(2_000):
            receipt = self._rpc("eth_getTransactionReceipt", [tx_hash])
            if receipt is not None:
                break
            time.sleep(0.001)
        receipt = self.web3.eth.get_transaction_receipt(tx_hash)
        self.head_time = self.now
        self.now += 1
        return receipt

    def mine(self):
        """An empty block at `self.now`: views and calls then see that time."""
        self._rpc("evm_mine", [self.now])
        self.head_time, self.now = self.now, self.now + 1

    def call_reason(self, to: str, data: bytes, sender: str) -> str | None:
        """The revert reason of `data` in a block at `self.now` ("" for a revert
        without one), or None if it would succeed."""
        self.mine()
        try:
            self.web3.eth.call({"from": sender, "to": to, "data": "0x" + data.hex(), "gas": GAS}, "latest")
        except Web3ContractLogicError as error:
            raw = bytes.fromhex(str(error.data)[2:]) if error.data else b""
            if raw[:4] != ERROR_SELECTOR:
                return ""
            return decode(["string"], raw[4:])[0]
        return None

    def mined_reason(self, receipt) -> str:
        """Why a mined transaction reverted, from its trace ("" without a reason)."""
        trace = self._rpc("debug_traceTransaction", [receipt["transactionHash"].to_0x_hex(), {"tracer": "callTracer"}])
        return trace.get("revertReason") or trace.get("error") or ""

    def expect(self, label: str, operation, to: str, data: bytes, sender: str):
        """Run `operation(model_copy, now)`; the chain must do the same: revert with the
        same reason (and change nothing: the invariants check), or succeed. Returns
        (receipt, the operation's result) or None."""
        trial = self.model.copy()
        try:
            result = operation(trial, self.now)
        except Revert as revert:
            reason = "" if isinstance(revert, Overflow) else revert.reason
            note(f"{label}: expect revert {reason!r}")
            event(f"{label}: {reason}")
            OUTCOMES[f"{label}: {reason}"] += 1
            assert self.call_reason(to, data, sender) == reason, (label, reason)
            return None
        event(f"{label}: ok")
        OUTCOMES[f"{label}: ok"] += 1
        receipt = self.send(to, data, sender)
        if receipt["status"] != 1:
            raise AssertionError(
                f"{label}: the model expected success; the chain reverted with {self.mined_reason(receipt)!r} "
                f"in block {receipt['blockNumber']} at {self.head_time} (gas used {receipt['gasUsed']} of {GAS})"
            )
        self.model = trial
        return receipt, result

    def check_settled(self, receipt, expected: list[Settled]):
        actual = settled_events(receipt, self.pool)
        assert actual == expected, (actual, expected)
        for s in expected:
            OUTCOMES[f"settled outcome {s.outcome}"] += 1
            event(f"settled outcome {s.outcome}")

    def latest_answer(self) -> int:
        return self.model.oracle.rounds[self.model.oracle.latest_round].answer

    def live_model_price(self):
        return self.model.oracle.price(self.now)

    # ------------------------------------------------------------ requests

    def _request(self, kind: str, sender: str, amount: int, min_out: int, receiver: str, deadline: int):
        method = {
            "mint": self.model.request_mint,
            "redeem": self.model.request_redeem,
            "lp_deposit": self.model.request_lp_deposit,
            "lp_withdraw": self.model.request_lp_withdraw,
        }[kind]
        data = calldata(
            f"request_{kind}(uint256,uint256,address,uint256)",
            ["uint256", "uint256", "address", "uint256"],
            [amount, min_out, receiver, deadline],
        )
        done = self.expect(
            f"request_{kind}",
            lambda m, t: getattr(m, method.__name__)(sender, amount, min_out, receiver, deadline, t),
            self.book,
            data,
            sender,
        )
        if done is None:
            return
        receipt, result = done
        if isinstance(result, Order):
            assert requested_event(receipt, self.book) == result
        else:  # settled at once after shutdown
            self.check_settled(receipt, [result])

    def _min_out(self, kind: str, amount: int, slip: int) -> int:
        """A slippage bound near the current preview: `slip` basis points above or
        below it (0: no bound)."""
        if slip == 0:
            return 0
        try:
            preview = {
                "mint": self.model.preview_mint,
                "redeem": self.model.preview_redeem,
                "lp_deposit": self.model.preview_lp_deposit,
                "lp_withdraw": self.model.preview_lp_withdraw,
            }[kind](amount, self.now)
        except Revert:
            return 0
        return max(preview * (10_000 + slip) // 10_000, 0)

    @initialize(lp_index=st.integers(0, 3), units=st.integers(1_000, 1_000_000), mint_share=st.integers(0, 1_000))
    def seed(self, lp_index, units, mint_share):
        """Runs start with LP liquidity and mostly a first mint, settled."""
        actor = self.actors[lp_index].address
        self._request("lp_deposit", actor, units * self.unit, 0, actor, self.now + 3_600)
        if mint_share:
            minter = self.actors[(lp_index + 1) % len(self.actors)].address
            assets = max(units * self.unit * mint_share // 2_000, self.model.min_order)
            self._request("mint", minter, assets, 0, minter, self.now + 3_600)
        self.publish_round(move=0, wait=self.model.min_delay, kind="normal", held=0)
        self.settle(0, MAX_BATCH)

    @rule(
        kind=st.sampled_from(["mint", "mint", "redeem", "lp_deposit", "lp_withdraw"]),
        index=st.integers(0, 3),
        to=st.integers(0, 3),
        per_mille=st.integers(1, 1_500),
        slip=st.sampled_from([0, 0, 0, -300, -30, 30, 300]),
    )
    def request(self, kind, index, to, per_mille, slip):
        actor, receiver = self.actors[index].address, self.actors[to].address
        m = self.model
        if kind == "mint":
            try:
                capacity = m.max_mint(self.now)
            except Revert:
                capacity = 0
            amount = max(capacity * per_mille // 1_000, m.min_order)
        elif kind == "lp_deposit":
            amount = max(per_mille * 100 * self.unit, m.min_order)
        elif kind == "redeem":
            amount = max(m.balances.get(actor, 0) * min(per_mille, 1_000) // 1_000, 1)
        else:
            amount = max(m.lp_balances.get(actor, 0) * min(per_mille, 1_000) // 1_000, 1)
        note(f"request {kind} {amount} by {index} to {to}, slip {slip}")
        self._request(kind, actor, amount, self._min_out(kind, amount, slip), receiver, self.now + 600)

    @rule(
        case=st.sampled_from(
            [
                "zero_amount",
                "zero_receiver",
                "receiver_pool",
                "receiver_lp",
                "receiver_book",
                "deadline",
                "min_out",
                "below_min_order",
                "above_balance",
                "claim",
                "stranger_shutdown",
                "stranger_pause",
                "stranger_parameters",
                "bad_parameters",
            ]
        ),
        kind=st.sampled_from(list(KINDS)),
        index=st.integers(0, 3),
    )
    def bad_input(self, case, kind, index):
        """Each must revert with the model's reason and change nothing."""
        actor = self.actors[index].address
        m = self.model
        amount = max(m.min_order, self.unit)
        if kind == "redeem":
            amount = m.balances.get(actor, 0)
        elif kind == "lp_withdraw":
            amount = m.lp_balances.get(actor, 0)
        amount = max(amount, 1)
        receiver, deadline, min_out = actor, self.now + 600, 0
        if case == "claim":
            self.expect("claim", lambda m, t: m.claim(actor), self.pool, calldata("claim()", [], []), actor)
            return
        if case == "stranger_shutdown":
            self.expect("shutdown", lambda m, t: m.shutdown(actor, t), self.pool, calldata("shutdown()", [], []), actor)
            return
        if case == "stranger_pause":
            stranger = self.keeper.address
            self.expect("pause", lambda m, t: m.pause(stranger), self.pool, calldata("pause()", [], []), stranger)
            return
        if case in ("stranger_parameters", "bad_parameters"):
            params = m.params()
            sender = actor
            if case == "bad_parameters":
                params["settle_fee"] = MAX_SETTLE_FEE_UNITS * self.unit + 1
                sender = self.owner.address
            self._queue_parameters(params, sender)
            return
        if case == "zero_amount":
            amount = 0
        elif case == "zero_receiver":
            receiver = ZERO
        elif case.startswith("receiver_"):
            receiver = {"receiver_pool": self.pool, "receiver_lp": self.lp, "receiver_book": self.book}[case]
        elif case == "deadline":
            deadline = self.now - 1
        elif case == "min_out":
            min_out = 2**128
        elif case == "below_min_order":
            if kind in ("mint", "lp_deposit"):
                amount = max(m.min_order - 1, 0)
            else:
                amount = max(amount // 2, 1)  # may well be a valid order: then it runs
        else:
            amount = amount + 1 if kind in ("redeem", "lp_withdraw") else 2**255
        note(f"bad input {case}: {kind} {amount} to {receiver}")
        self._request(kind, actor, amount, min_out, receiver, deadline)

    # ------------------------------------------------------------ the oracle

    @rule(
        move=st.one_of(st.integers(-300, 300), st.integers(-3_000, 3_000), st.sampled_from(["crash", "spike"])),
        # Now and then a day passes: a queued parameter change becomes ready.
        wait=st.one_of(st.integers(1, 300), st.integers(300, 5_000), st.just(86_400)),
        kind=st.sampled_from(["normal", "normal", "normal", "held", "invalid", "new_phase"]),
        held=st.integers(1, 600),
    )
    def publish_round(self, move, wait, kind, held):
        """A round after `wait` seconds. `held`: a transmission observed `held`
        seconds before it landed (startedAt < updatedAt, never before the previous
        round's); `invalid`: answer 0 or below; `new_phase`: the proxy moves on."""
        self.now += wait
        answer = self.latest_answer()
        if answer <= 0:
            answer = self._good_answer()
        if move == "crash":
            answer = max(answer * 6 // 10, 1)  # holders gain 40% x L: LPs may be exhausted
        elif move == "spike":
            # Up by more than 1/L: the NAV goes to zero.
            answer = answer + answer * WAD // self.model.leverage + answer // 50
        else:
            answer = max(answer + answer * move // 10_000, 1)
        oracle = self.model.oracle
        if kind == "new_phase":
            data = calldata("new_phase(int256)", ["int256"], [answer])
            self.send(self.feed, data, self.owner.address, gas=300_000)
            oracle.new_phase(answer, self.head_time)
        else:
            started = updated = self.now
            if kind == "invalid":
                answer = -answer if held % 2 else 0
            if kind == "held":
                last_started = oracle.rounds[oracle.phase_latest[oracle.phase]].started_at
                started = max(self.now - held, last_started)
            data = calldata(
                "push_round(int256,uint256,uint256)", ["int256", "uint256", "uint256"], [answer, started, updated]
            )
            receipt = self.send(self.feed, data, self.owner.address, gas=300_000)
            assert receipt["status"] == 1
            oracle.push_round(answer, started, updated)
        note(f"round {kind} answer {answer} at {self.head_time}")
        event(f"round {kind}")

    def _good_answer(self) -> int:
        for r in sorted(self.model.oracle.rounds.items(), reverse=True):
            if r[1].answer > 0:
                return r[1].answer
        return 2_000 * 10**FEED_DECIMALS

    @rule(go=st.integers(0, 9))
    def feed_outage(self, go):
        """The feed reverts every read (paused or deprecated), now and then, and comes
        back: requests meanwhile record phase 0 and are void at their expiry (a
        shutdown then keeps the reference NAV); there is no price, so no rebalance."""
        oracle = self.model.oracle
        if go < (5 if oracle.reverting else 9):
            return
        data = calldata("set_reverting(bool)", ["bool"], [not oracle.reverting])
        assert self.send(self.feed, data, self.owner.address, gas=100_000)["status"] == 1
        oracle.reverting = not oracle.reverting
        note(f"feed {'reverts' if oracle.reverting else 'back'} at {self.head_time}")
        event(f"feed {'reverts' if oracle.reverting else 'back'}")

    @rule(seconds=st.one_of(st.integers(1, 200), st.integers(200, 4_000), st.integers(4_000, 90_000)))
    def time_passes(self, seconds):
        """Past T + max_wait pending orders go void; past max_age the price is stale."""
        self.now += seconds
        self.mine()

    # ------------------------------------------------------------ settlement

    def _due_batch(self):
        """The due orders; if none is due but some wait, first a round after the
        head order's T."""
        orders, round_ids = self._batch(MAX_BATCH)
        m = self.model
        if not orders and m.head != m.tail and not m.is_shutdown:
            self.now = max(self.now, m.orders[m.head].not_before)
            self.publish_round(move=0, wait=0, kind="normal", held=0)
            orders, round_ids = self._batch(MAX_BATCH)
        return orders, round_ids

    def _batch(self, limit: int):
        return settlement_batch(self.book_contract, self.raw_feed, self.now, self.start_block, limit)

    @rule(settler=st.integers(0, 4), limit=st.sampled_from([1, 2, 3, MAX_BATCH]), start=st.booleans())
    def settle(self, settler, limit, start=False):
        """Settle what is due, by any actor, in batches as the keeper builds them;
        with nothing due, a settle of the head order at its phase's last round or
        at its start (which proves "no round came" only when the feed says so, not
        while it reverts) must revert."""
        who = self.settlers[settler].address
        orders, round_ids = self._batch(limit)
        outage_start = False
        if not orders:
            if self.model.head == self.model.tail:
                return
            head = self.model.orders[self.model.head]
            last = self.model.oracle.phase_latest.get(head.phase, head.phase << PHASE_SHIFT)
            if start:
                last = head.phase << PHASE_SHIFT
                outage_start = self.model.oracle.reverting and head.phase != 0
            orders, round_ids = [head.as_struct()], [last]
        note(f"settle {[o[0] for o in orders]} at rounds {round_ids} by {settler}")
        done = self.expect(
            "settle", lambda m, t: m.settle(who, orders, round_ids, t), self.book, settle_data(orders, round_ids), who
        )
        if done is not None:
            self.check_settled(*done)
        elif outage_start:
            RUN["phase start refused"] += 1

    @rule(settler=st.integers(0, 4), gas=st.integers(60_000, 600_000))
    def settle_with_little_gas(self, settler, gas):
        """The gas a settler sends never changes an outcome: the call reverts and
        changes nothing, or settles exactly as the model does."""
        who = self.settlers[settler].address
        orders, round_ids = self._batch(MAX_BATCH)
        if not orders:
            return
        trial = self.model.copy()
        expected = trial.settle(who, orders, round_ids, self.now)
        receipt = self.send(self.book, settle_data(orders, round_ids), who, gas=gas)
        event(f"low gas settle: status {receipt['status']}")
        OUTCOMES[f"low gas settle: status {receipt['status']}"] += 1
        if receipt["status"] == 1:
            self.model = trial
            self.check_settled(receipt, expected)

    @rule(first=st.integers(0, 4), second=st.integers(0, 4), split=st.integers(1, 3))
    def competing_settlers(self, first, second, split):
        """Two settlers race with the same batch: the second skips what the first settled."""
        orders, round_ids = self._due_batch()
        if len(orders) < 2:
            return
        a, b = self.settlers[first].address, self.settlers[second].address
        split = min(split, len(orders) - 1)
        for who, batch, ids in ((a, orders[:split], round_ids[:split]), (b, orders, round_ids)):
            done = self.expect(
                "settle",
                lambda m, t, who=who, batch=batch, ids=ids: m.settle(who, batch, ids, t),
                self.book,
                settle_data(batch, ids),
                who,
            )
            assert done is not None
            self.check_settled(*done)

    @rule(settler=st.integers(0, 4), delta=st.sampled_from([-1, 1, 2]))
    def settle_at_a_wrong_round(self, settler, delta):
        """A round that is not the order's: reverts (or the order waits)."""
        orders, round_ids = self._batch(1)
        if not orders or not round_ids[0]:
            return
        who = self.settlers[settler].address
        ids = [round_ids[0] + delta]
        self.expect(
            "settle wrong round", lambda m, t: m.settle(who, orders, ids, t), self.book, settle_data(orders, ids), who
        )

    @rule(
        first=st.integers(0, 4),
        second=st.integers(0, 4),
        later=st.integers(1, 20_000),
        move=st.integers(-2_000, 2_000),
        rounds=st.integers(0, 2),
    )
    def settle_is_time_independent(self, first, second, later, move, rounds):
        """Settle the due orders now as one actor, put the chain back, let time pass
        and later rounds come, settle as another: the same amounts."""
        orders, round_ids = self._due_batch()
        if not orders:
            return
        a, b = self.settlers[first].address, self.settlers[second].address
        kinds = {o[0]: o[1] for o in orders}
        snapshot = chain.snapshot()
        saved_now = self.now
        first_receipt = self.send(self.book, settle_data(orders, round_ids), a)
        assert first_receipt["status"] == 1
        now_events = {s.order_id: s for s in settled_events(first_receipt, self.pool)}
        chain.restore(snapshot)
        self.now = saved_now + later
        for _ in range(rounds):
            self.publish_round(move=move, wait=1, kind="normal", held=0)
        later_orders, later_ids = self._batch(MAX_BATCH)
        done = self.expect(
            "settle later",
            lambda m, t: m.settle(b, later_orders, later_ids, t),
            self.book,
            settle_data(later_orders, later_ids),
            b,
        )
        assert done is not None
        self.check_settled(*done)
        later_events = {s.order_id: s for s in settled_events(done[0], self.pool)}
        assert set(now_events) <= set(later_events)
        for order_id, now_event in sorted(now_events.items()):
            later_event = later_events[order_id]
            if kinds[order_id] == ORDER_SHUTDOWN and now_event.outcome == OUTCOME_VOID:
                RUN["void shutdowns settled twice"] += 1
            assert now_event.amounts() == later_event.amounts(), (now_event, later_event)
            if now_event.outcome != OUTCOME_VOID:
                assert now_event.round_id == later_event.round_id
        RUN["time independence checks"] += len(now_events)

    # ------------------------------------------------------------ rebalance and admin

    @rule(keeper=st.integers(0, 4), fresh=st.booleans(), settle_first=st.booleans())
    def rebalance(self, keeper, fresh, settle_first):
        """`rebalance_due()` agrees with what `rebalance()` then does; refused while
        an order whose round is out waits."""
        if fresh:
            self.publish_round(move=0, wait=1, kind="normal", held=0)
        if settle_first:
            self.settle(keeper, MAX_BATCH)
        who = self.settlers[keeper].address
        queued = self.model.parameters_ready_at
        self.mine()
        due = bool(self.web3.eth.call({"to": self.pool, "data": "0x" + calldata("rebalance_due()", [], []).hex()})[-1])
        assert due == self.model.rebalance_due(self.head_time)
        done = self.expect(
            "rebalance", lambda m, t: m.rebalance(who, t), self.pool, calldata("rebalance()", [], []), who
        )
        if done is None:
            return
        if queued and not self.model.parameters_ready_at:
            OUTCOMES["rebalance: applied the queued parameters"] += 1
        receipt, result = done
        [log] = [lg for lg in receipt["logs"] if bytes(lg["topics"][0]) == REBALANCE_TOPIC]
        reason, price, nav, fee, bounty = decode(
            ["uint8", "uint256", "uint256", "uint256", "uint256"], bytes(log["data"])
        )
        assert {"reason": reason, "price": price, "nav": nav, "management_fee": fee, "bounty": bounty} == result

    @rule(go=st.integers(0, 7))
    def shutdown(self, go):
        """Shutdown enters the queue like an order (rarely: it ends the market)."""
        if go != 7:
            return
        owner = self.owner.address
        done = self.expect(
            "shutdown", lambda m, t: m.shutdown(owner, t), self.pool, calldata("shutdown()", [], []), owner
        )
        if done is not None:
            assert requested_event(done[0], self.book) == done[1]

    @rule(go=st.integers(0, 3))
    def pause_or_unpause(self, go):
        if go != 3:
            return
        if self.model.paused:
            owner = self.owner.address
            self.expect("unpause", lambda m, t: m.unpause(owner), self.pool, calldata("unpause()", [], []), owner)
        else:
            guardian = self.guardian.address
            self.expect("pause", lambda m, t: m.pause(guardian), self.pool, calldata("pause()", [], []), guardian)

    @rule(
        mint_fee=st.integers(0, MAX_TRADE_FEE),
        redeem_fee=st.integers(0, MAX_TRADE_FEE),
        management_fee=st.integers(0, MAX_MANAGEMENT_FEE),
        min_backing_tenths=st.integers(1, 50),
        settle_fee_tenths=st.integers(0, 50),
        min_delay=st.integers(MIN_MIN_DELAY, 600),
        max_wait=st.integers(MIN_MAX_WAIT, 7_200),
        bounty_units=st.integers(0, 20),
        interval=st.sampled_from([3_600, 86_400]),
        cancel=st.integers(0, 3),
    )
    def queue_parameters(
        self,
        mint_fee,
        redeem_fee,
        management_fee,
        min_backing_tenths,
        settle_fee_tenths,
        min_delay,
        max_wait,
        bounty_units,
        interval,
        cancel,
    ):
        """A change waits out the delay and applies at the next rebalance; then new
        fees and order terms apply to new orders only; T never decreases."""
        if cancel == 3:
            owner = self.owner.address
            self.expect(
                "cancel_parameters",
                lambda m, t: m.cancel_parameters(owner),
                self.pool,
                calldata("cancel_parameters()", [], []),
                owner,
            )
            return
        if self.model.parameters_ready_at and cancel != 0:
            return  # mostly let a queued change wait out its delay (a new queue restarts it)
        params = self.model.params() | {
            "interval": interval,
            "threshold": default_threshold(self.model.leverage),
            "mint_fee": mint_fee,
            "redeem_fee": redeem_fee,
            "management_fee": management_fee,
            "keeper_bounty": bounty_units * self.unit,
            "min_backing": min_backing_tenths * WAD // 10,
            "settle_fee": settle_fee_tenths * self.unit // 10,
            "min_delay": min_delay,
            "max_wait": max_wait,
        }
        self._queue_parameters(params, self.owner.address)

    def _queue_parameters(self, params: dict, sender: str):
        values = tuple(params[name] for name in ORDER_PARAMETER_NAMES)
        data = calldata(f"queue_parameters({PARAMS_TYPE})", [PARAMS_TYPE], [values])
        done = self.expect(
            "queue_parameters", lambda m, t: m.queue_parameters(sender, params, t), self.pool, data, sender
        )
        if done is not None:
            queued = decode(
                [PARAMS_TYPE], self.web3.eth.call({"to": self.pool, "data": calldata("queued_parameters()", [], [])})
            )[0]
            assert queued == values

    # ------------------------------------------------------------ invariants

    @invariant()
    def contract_equals_model_and_is_solvent(self):
        self.steps += 1
        RUN["steps"] += 1
        values = self.views.read()
        m = self.model
        for name in (
            "total_assets",
            "reference_price",
            "reference_nav",
            "last_rebalance",
            "fee_time",
            "total_claimable",
        ):
            assert values[name] == getattr(m, name), name
        assert values["totalSupply"] == m.total_supply
        assert values["lp_supply"] == m.lp_supply
        assert (values["paused"], values["is_shutdown"], values["shutdown_requested"]) == (
            m.paused,
            m.is_shutdown,
            m.shutdown_requested,
        )
        # The book's copy of the pool's terms, pushed on every change (shutdown: set by the book).
        assert values["terms"] == (
            m.paused or m.shutdown_requested,
            m.is_shutdown,
            m.mint_fee,
            m.redeem_fee,
            m.settle_fee,
            m.min_delay,
            m.max_wait,
            m.min_order,
        )
        assert values["parameters"] == tuple(m.params().values())
        assert values["parameters_ready_at"] == m.parameters_ready_at
        assert values["escrowed"] == m.escrowed
        assert values["next_order"] == m.head
        assert values["pending_orders"] == m.tail - m.head
        pending, not_before, phase = values["head"]
        head = m.orders.get(m.head)
        assert (pending, not_before, phase) == ((True, head.not_before, head.phase) if head else (False, 0, 0))
        for address in self.holders:
            assert values[f"bal:{address}"] == m.balances.get(address, 0), address
            assert values[f"lp:{address}"] == m.lp_balances.get(address, 0), address
            assert values[f"coll:{address}"] == m.collateral.get(address, 0), address
        # Every token is accounted for: the actors and the pool's escrow are the only holders.
        assert sum(m.balances.values()) == values["totalSupply"]
        # Solvency: the pool holds what it owes (exactly, as nobody donates here).
        held = values[f"coll:{self.pool}"]
        assert held >= values["total_assets"] + values["escrowed"] + values["total_claimable"]
        assert held == values["total_assets"] + values["escrowed"] + values["total_claimable"]
        assert values["rebalance_due"] == m.rebalance_due(self.head_time)

        if not m.is_shutdown and m.oracle.price(self.head_time) is None:
            return
        priced = self.priced_views.read()
        t = self.head_time
        assert priced["nav"] == m.nav(t)
        assert priced["inverse_value"] == m.inverse_value(t)
        assert priced["lp_value"] == m.lp_value(t)
        assert priced["max_mint"] == m.max_mint(t)
        assert priced["max_lp_withdraw"] == m.max_lp_withdraw(t)
        assert priced["preview_mint"] == m.preview_mint(1_000 * self.unit, t)
        assert priced["preview_redeem"] == m.preview_redeem(10**21, t)
        assert priced["preview_lp_deposit"] == m.preview_lp_deposit(1_000 * self.unit, t)
        assert priced["preview_lp_withdraw"] == m.preview_lp_withdraw(10**21, t)
        # A = S*n + V_lp, with S*n rounded up (what the pool owes) and V_lp >= 0.
        supply, nav = values["totalSupply"], priced["nav"]
        assert priced["inverse_value"] == ceil_div(supply * nav, 10 ** (36 - self.decimals))
        assert priced["inverse_value"] + priced["lp_value"] == values["total_assets"]
        if supply:
            assert nav <= values["total_assets"] * 10 ** (36 - self.decimals) // supply


MARKETS = [(6, 1), (18, 1), (6, 3), (18, 3)]
ROOT = Path(__file__).resolve().parents[2]


def _sources_digest() -> bytes:
    """What the machine's verdict depends on: the contracts and the model."""
    paths = sorted((ROOT / "contracts").rglob("*.vy*")) + [ROOT / "inverse" / "model.py"]
    return keccak(b"".join(path.read_bytes() for path in paths))


@pytest.mark.parametrize("decimals, leverage", MARKETS, ids=[f"{d}dec-{lev}x" for d, lev in MARKETS])
def test_order_state_machine(accounts, decimals, leverage):
    # A deployer of its own (not the v1 machine's): ape caches contract types by
    # address, and addresses come from (sender, nonce).
    owner, guardian, keeper = accounts[11], accounts[1], accounts[2]
    actors = tuple(accounts[3:7])
    # The shortest parameter delay: a queued change becomes ready within an example.
    system = deploy_mock_system(
        owner,
        leverages=(leverage,),
        collateral_decimals=decimals,
        guardian=guardian.address,
        parameter_delay=MIN_PARAMETER_DELAY,
    )
    pool = next(iter(system.pools.values()))
    book = order_book_of(pool)
    for actor in actors:
        system.collateral.mint(actor, 10**12 * 10**decimals, sender=actor)
        system.collateral.approve(book, 2**256 - 1, sender=actor)

    machine = type(
        f"OrderMachine_{decimals}dec_{leverage}x",
        (OrderMachine,),
        {
            "system": system,
            "actors": actors,
            "owner": owner,
            "guardian": guardian,
            "keeper": keeper,
            "decimals": decimals,
        },
    )
    RUN.clear()
    start = time.monotonic()
    # The `ci` profile's budget for this machine is about 2.5 minutes for the four
    # markets; other profiles (`deep`) run as registered.
    run_settings = settings()
    if os.environ.get("HYPOTHESIS_PROFILE", "ci") == "ci":
        run_settings = settings(run_settings, max_examples=CI_EXAMPLES, stateful_step_count=CI_STEPS)
    sources = _sources_digest()
    try:
        run_state_machine_as_test(machine, settings=run_settings)
    except Exception:
        # Contracts deployed at the start, a model imported at the start: an edit to
        # either during the run makes a failure that no replay shows.
        if _sources_digest() != sources:
            pytest.fail("contracts or model changed during the run: rerun (`ape compile --force` if ape kept old code)")
        raise
    if os.environ.get("FUZZ_OUTCOMES"):
        FUZZ_SUMMARY.extend(f"  {count:6d}  {name}" for name, count in sorted(OUTCOMES.items()))
        OUTCOMES.clear()
    elapsed = time.monotonic() - start
    FUZZ_SUMMARY.append(
        f"{machine.__name__}: {RUN['examples']} examples, {RUN['steps']} steps in {elapsed:.0f} s "
        f"({RUN['steps'] / elapsed:.1f} steps/s), {RUN['time independence checks']} orders settled twice "
        f"({RUN['void shutdowns settled twice']} void shutdowns), {RUN['phase start refused']} void proofs "
        f"from a phase start refused during an outage"
    )
