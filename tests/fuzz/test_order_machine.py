"""Stateful fuzzing of one next-price market on Anvil, held to `inverse.model.PoolModel`
to the wei.

Hypothesis drives random sequences of requests of every kind by several actors (bad
ones too, which must revert with the model's reason and change nothing), oracle
rounds (normal, late, a held transmission whose `startedAt` is before the requests,
invalid answers, a phase change, the feed reverting for a while), time passing past
orders' expiry, settlement in batches by different actors at different times (through
`inverse.orders.due_batch`, as the keeper does), settlement with too little
gas, competing settlers, rebalances and shutdown. After every step every number the contracts expose must equal the
model's, and the pool must be solvent.

An order's amounts do not depend on who settles it or when, checked two ways:
`PoolModel.settle` prices each order from its round alone (the first qualifying round
of its phase in the feed's history) and asserts that the round the settler named
gives the same; and `settle_is_time_independent` settles the same orders twice from one
chain state, by different actors at different times with later rounds published in
between, and compares the `OrderSettled` events.

The test deploys the market through ape; the machine runs in worker processes, each on
an Anvil of its own loaded with that deployment, and drives it through bare JSON-RPC
(`rpc.py`; `parallel.py` runs the workers). Each example starts from a snapshot of the
deployment and restores it in `teardown`.
"""

import time
from collections import Counter
from dataclasses import replace

import pytest
from eth_abi import decode
from eth_utils import keccak, to_checksum_address
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from inverse.constants import (
    MAX_BATCH,
    MAX_MANAGEMENT_FEE,
    MAX_PRICE,
    MAX_TRADE_FEE,
    MIN_MAX_WAIT,
    MIN_MIN_DELAY,
    MIN_PARAMETER_DELAY,
    ORDER_PARAMETER_NAMES,
    OUTCOMES,
    WAD,
    default_threshold,
    parameter_bounds,
)
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
from inverse.orders import NEXT_PHASE_SHIFT, ROUND_ID_MASK, due_orders, order_from_raw_log
from tests.fuzz.parallel import Market, deploy_market, run_machine
from tests.fuzz.rpc import Anvil, RawFeed, Reverted, RpcError, Views, calldata, decoder, eth_call

ZERO = "0x" + "00" * 20
FEED_DECIMALS = 8
GAS = 5_000_000
RESET_AFTER_BLOCKS = 500  # then the next example starts on a reset Anvil (`Anvil.reset`)
ORDER_TYPE = "(uint256,uint256,address,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
PARAMS_TYPE = "(" + ",".join(["uint256"] * 11) + ")"
SETTLED_TOPIC = keccak(
    text="OrderSettled(uint256,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
)
REQUESTED_TOPIC = keccak(
    text="OrderRequested(uint256,address,address,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256,uint256)"
)
REBALANCE_TOPIC = keccak(text="Rebalance(address,uint8,uint256,uint256,uint256,uint256)")
KINDS = {"mint": ORDER_MINT, "redeem": ORDER_REDEEM, "lp_deposit": ORDER_LP_DEPOSIT, "lp_withdraw": ORDER_LP_WITHDRAW}


def settle_data(orders: list, round_ids: list) -> bytes:
    structs = [tuple(o) for o in orders]
    return calldata(f"settle({ORDER_TYPE}[],uint256[])", [f"{ORDER_TYPE}[]", "uint256[]"], [structs, round_ids])


def settled_events(receipt, pool: str) -> list[Settled]:
    out = []
    for log in receipt["logs"]:
        if log["address"] != pool.lower() or log["topics"][0] != SETTLED_TOPIC:
            continue
        order_id = int.from_bytes(log["topics"][1], "big")
        settler = to_checksum_address(log["topics"][2][-20:])
        values = decode(["uint256"] * 8, log["data"])
        out.append(Settled(order_id, settler, *values))
    return out


def requested_event(receipt, book: str) -> Order:
    """The request's `OrderRequested`, read as the keeper reads it from the logs."""
    [log] = [lg for lg in receipt["logs"] if lg["address"] == book.lower() and lg["topics"][0] == REQUESTED_TOPIC]
    return order_from_raw_log(log)


class OrderMachine(RuleBasedStateMachine):
    """One market; `market` and `anvil` (its worker's) are set by the worker."""

    market: Market = None
    anvil: Anvil = None
    # What the runs did, for the summary at the end: the machine's own figures, and
    # what each operation came to ("label: ok" or "label: <revert reason>").
    figures = Counter()
    outcomes = Counter()
    # The deployment's state in the model and the views the invariants read, set up
    # once: every example starts from that state.
    _initial = _views = None

    def __init__(self):
        super().__init__()
        market = self.market
        self.rpc = self.anvil.rpc
        self.snapshot = self.rpc("evm_snapshot")
        self.pool, self.book, self.lp = market.pool, market.book, market.lp
        self.feed, self.collateral = market.feed, market.collateral
        self.owner, self.guardian, self.keeper = market.owner, market.guardian, market.keeper
        self.actors = tuple(market.actors)
        self.decimals = market.decimals
        self.unit = 10**self.decimals
        self.head_time = int(self.rpc("eth_getBlockByNumber", "latest", False)["timestamp"], 16)
        self.now = self.head_time + 1
        self.settlers = (*self.actors, self.keeper)
        self.raw_feed = RawFeed(self.rpc, self.feed)
        self.holders = [*self.settlers, self.pool]
        if self._initial is None:
            type(self)._initial, type(self)._views = self._model_from_chain(), self._build_views()
        self.model = self._initial.copy()
        self.steps = 0

    def teardown(self):
        if self.anvil.blocks > RESET_AFTER_BLOCKS:
            self.anvil.reset()
        else:
            self.rpc("evm_revert", self.snapshot)
        self.figures["examples"] += 1

    # ------------------------------------------------------------ plumbing

    def _model_from_chain(self) -> PoolModel:
        pool, book = self.pool, self.book
        reader = Views()
        reader.add("latest", self.feed, "latestRoundData()", out="(uint80,int256,uint256,uint256,uint80)")
        reader.add("max_age", self.market.oracle, "max_age()")
        for name in ("leverage", "reference_price", "reference_nav", "last_rebalance", "fee_time", "total_assets"):
            reader.add(name, pool, f"{name}()")
        reader.add("parameter_delay", pool, "parameter_delay()")
        reader.add("parameters", pool, "parameters()", out=PARAMS_TYPE)
        reader.add("totalSupply", pool, "totalSupply()")
        reader.add("next_order", book, "next_order()")
        for address in (*self.settlers, self.owner, pool):
            reader.add(address, self.collateral, "balanceOf(address)", [address], ["address"])
        values = reader.read_all(self.rpc)
        round_id, answer, started, updated, _ = values["latest"]
        oracle = OracleModel(feed_decimals=FEED_DECIMALS, max_age=values["max_age"], phase=round_id >> PHASE_SHIFT)
        oracle._set_round(round_id, answer, started, updated)
        model = PoolModel(
            leverage=values["leverage"],
            collateral_decimals=self.decimals,
            oracle=oracle,
            pool=self.pool,
            lp_token=self.lp,
            book=self.book,
            owner=self.owner,
            guardian=self.guardian,
            reference_price=values["reference_price"],
            reference_nav=values["reference_nav"],
            last_rebalance=values["last_rebalance"],
            fee_time=values["fee_time"],
            total_assets=values["total_assets"],
            parameter_delay=values["parameter_delay"],
            **dict(zip(ORDER_PARAMETER_NAMES, values["parameters"], strict=True)),
        )
        for address in (*self.settlers, self.owner, pool):
            model.collateral[address] = values[address]
        assert values["totalSupply"] == 0 and values["next_order"] == 1
        return model

    def _build_views(self) -> Views:
        """Every number the invariants compare, read in one call after every step;
        the priced ones (`priced:`) revert while the oracle has no price."""
        pool, lp, book, coll = self.pool, self.lp, self.book, self.collateral
        reader = Views()
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
        reader.add("held_deposits", book, "held_deposits()", out="(uint256,uint256,uint256)")
        reader.add("terms", book, "terms()", out="(bool,bool,uint256,uint256,uint256,uint256,uint256,uint256)")
        reader.add("parameters", pool, "parameters()", out=PARAMS_TYPE)
        reader.add("parameters_ready_at", pool, "parameters_ready_at()")
        # Claims stay at 0 here (the mock collateral refuses nobody): `total_claimable`
        # covers them.
        for address in self.holders:
            reader.add(f"bal:{address}", pool, "balanceOf(address)", [address], ["address"])
            reader.add(f"lp:{address}", lp, "balanceOf(address)", [address], ["address"])
            reader.add(f"coll:{address}", coll, "balanceOf(address)", [address], ["address"])
        reader.add("priced:nav", pool, "nav()")
        lens = self.market.lens
        for name in ("inverse_value", "lp_value", "max_mint", "max_lp_withdraw"):
            reader.add(f"priced:{name}", lens, f"{name}()")
        reader.add("priced:preview_mint", lens, "preview_mint(uint256)", [1_000 * self.unit], ["uint256"])
        reader.add("priced:preview_redeem", lens, "preview_redeem(uint256)", [10**21], ["uint256"])
        reader.add("priced:preview_lp_deposit", lens, "preview_lp_deposit(uint256)", [1_000 * self.unit], ["uint256"])
        reader.add("priced:preview_lp_withdraw", lens, "preview_lp_withdraw(uint256)", [10**21], ["uint256"])
        return reader

    def send(self, to: str, data: bytes, sender: str, gas: int = GAS) -> dict:
        """A transaction mined alone in a block at `self.now`; returns its receipt:
        status, logs (address in lower case, topics and data as bytes), hash. Status
        None: the block left it out, as a node does with a gas limit below what its
        calldata alone costs (EIP-7623's floor, which Anvil checks only then)."""
        [receipt] = self.send_together([(to, data, sender)], gas)
        return receipt

    def send_together(self, txs: list[tuple[str, bytes, str]], gas: int = GAS) -> list[dict]:
        """Transactions (to, data, sender) mined in one block at `self.now`, in this
        order; their receipts as `send` gives them."""
        hashes = [
            self.rpc(
                "eth_sendTransaction",
                {"from": sender, "to": to, "data": "0x" + data.hex(), "gas": hex(gas), "gasPrice": "0x0"},
            )
            for to, data, sender in txs
        ]
        self.mine()
        return [self._receipt(tx_hash) for tx_hash in hashes]

    def _receipt(self, tx_hash: str) -> dict:
        raw = self.rpc("eth_getTransactionReceipt", tx_hash)
        if raw is None:
            assert self.rpc("txpool_status")["pending"] == "0x0"  # dropped, not waiting for a later block
            return {"status": None, "logs": [], "hash": tx_hash, "gas_used": 0}
        logs = [
            {
                "address": log["address"].lower(),
                "topics": [bytes.fromhex(t[2:]) for t in log["topics"]],
                "data": bytes.fromhex(log["data"][2:]),
            }
            for log in raw["logs"]
        ]
        return {
            "status": int(raw["status"], 16),
            "logs": logs,
            "hash": tx_hash,
            "gas_used": int(raw["gasUsed"], 16),
            "index": int(raw["transactionIndex"], 16),
        }

    def mine(self):
        """A block at `self.now` (with what was sent since the last): views and calls
        then see that time."""
        self.rpc("evm_mine", self.now)
        self.anvil.blocks += 1
        self.head_time, self.now = self.now, self.now + 1

    def call_reason(self, to: str, data: bytes, sender: str) -> str | None:
        """The revert reason of `data` in a block at `self.now` ("" for a revert
        without one), or None if it would succeed."""
        self.mine()
        try:
            self.rpc.request(eth_call(to, data, sender, GAS))
        except RpcError as error:
            reason = error.revert_reason()
            assert reason is not None, f"the call failed without reverting: {error}"
            return reason
        return None

    def mined_reason(self, receipt) -> str:
        """Why a mined transaction reverted, from its trace ("" without a reason)."""
        trace = self.rpc("debug_traceTransaction", receipt["hash"], {"tracer": "callTracer"})
        return trace.get("revertReason") or trace.get("error") or ""

    def view(self, signature: str, out: str = "uint256"):
        """One view of the pool, now."""
        return decoder(out)(bytes.fromhex(self.rpc.request(eth_call(self.pool, calldata(signature)))[2:]))

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
            self.outcomes[f"{label}: {reason}"] += 1
            assert self.call_reason(to, data, sender) == reason, (label, reason)
            return None
        event(f"{label}: ok")
        self.outcomes[f"{label}: ok"] += 1
        receipt = self.send(to, data, sender)
        if receipt["status"] != 1:
            why = "left it out of its block"
            if receipt["status"] is not None:
                why = f"reverted: {self.mined_reason(receipt)!r}"
            raise AssertionError(
                f"{label}: the model expected success; the chain {why} at {self.head_time} "
                f"(gas used {receipt['gas_used']} of {GAS})"
            )
        self.model = trial
        return receipt, result

    def check_settled(self, receipt, expected: list[Settled]):
        actual = settled_events(receipt, self.pool)
        assert actual == expected, (actual, expected)
        for s in expected:
            self.outcomes[f"order settled: {OUTCOMES[s.outcome]}"] += 1
            event(f"order settled: {OUTCOMES[s.outcome]}")

    def latest_answer(self) -> int:
        return self.model.oracle.rounds[self.model.oracle.latest_round].answer

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
        actor = self.actors[lp_index]
        self._request("lp_deposit", actor, units * self.unit, 0, actor, self.now + 3_600)
        if mint_share:
            minter = self.actors[(lp_index + 1) % len(self.actors)]
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
        actor, receiver = self.actors[index], self.actors[to]
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
                "wrong_switch",
                "settle_not_next",
                "settle_unknown",
                "settle_lengths",
                "settle_other_phase",
            ]
        ),
        kind=st.sampled_from(list(KINDS)),
        index=st.integers(0, 3),
        parameter=st.sampled_from(ORDER_PARAMETER_NAMES),
        high=st.booleans(),
    )
    def bad_input(self, case, kind, index, parameter, high):
        """Each must revert with the model's reason and change nothing."""
        actor = self.actors[index]
        m = self.model
        if case.startswith("settle_"):
            self._bad_settle(case, actor)
            return
        if case == "wrong_switch":  # pause while paused, unpause while not
            if m.paused:
                guardian = self.guardian
                self.expect("pause", lambda m, t: m.pause(guardian), self.pool, calldata("pause()"), guardian)
            else:
                owner = self.owner
                self.expect("unpause", lambda m, t: m.unpause(owner), self.pool, calldata("unpause()"), owner)
            return
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
            stranger = self.keeper
            self.expect("pause", lambda m, t: m.pause(stranger), self.pool, calldata("pause()", [], []), stranger)
            return
        if case in ("stranger_parameters", "bad_parameters"):
            params = m.params()
            sender = actor
            if case == "bad_parameters":
                params[parameter] = self._out_of_bounds(parameter, high)
                sender = self.owner
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

    def _out_of_bounds(self, parameter: str, high: bool) -> int:
        """`parameter` just past its upper bound, or its lower one where it has one."""
        lowest, highest = parameter_bounds(self.model.leverage, self.decimals)
        if high or lowest[parameter] == 0:
            return highest[parameter] + 1
        return lowest[parameter] - 1

    def _bad_settle(self, case: str, who: str):
        """A settle naming the orders wrongly: the second order without the first, the
        head order with another amount, fewer round ids than orders, a round of
        another phase."""
        m = self.model
        if m.head == m.tail:
            return
        head = m.orders[m.head]
        orders, round_ids = [head.as_struct()], [m.oracle.phase_latest.get(head.phase, head.phase << PHASE_SHIFT)]
        if case == "settle_not_next":
            if m.head + 1 == m.tail:
                return
            orders = [m.orders[m.head + 1].as_struct()]
        elif case == "settle_unknown":
            orders = [replace(head, amount=head.amount + 1).as_struct()]
        elif case == "settle_lengths":
            round_ids = []
        else:
            round_ids = [(head.phase + 1) << PHASE_SHIFT | 1]
        self.expect(
            "settle", lambda m, t: m.settle(who, orders, round_ids, t), self.book, settle_data(orders, round_ids), who
        )

    # ------------------------------------------------------------ the oracle

    @rule(
        move=st.one_of(st.integers(-300, 300), st.integers(-3_000, 3_000), st.sampled_from(["crash", "spike"])),
        # Now and then a day passes: a queued parameter change becomes ready.
        wait=st.one_of(st.integers(1, 300), st.integers(300, 5_000), st.just(86_400)),
        kind=st.sampled_from(
            ["normal"] * 9 + ["held"] * 3 + ["invalid"] * 3 + ["new_phase"] * 3 + ["huge", "incomplete", "future"]
        ),
        held=st.integers(1, 600),
    )
    def publish_round(self, move, wait, kind, held):
        """A round after `wait` seconds. `held`: a transmission observed `held`
        seconds before it landed (startedAt < updatedAt, never before the previous
        round's); `invalid`: answer 0 or below; `new_phase`: the proxy moves on;
        a faulty feed's `huge` answer (past the adapter's bound), `incomplete`
        round (updatedAt 0, answered by the next round in place) or `future` one
        (updatedAt `held` seconds ahead)."""
        self.now += wait
        answer = self.latest_answer()
        if not 0 < answer <= MAX_PRICE // self.model.oracle.to_wad:
            answer = self._good_answer()
        if move == "crash":
            answer = max(answer * 6 // 10, 1)  # holders gain 40% x L: LPs may be exhausted
        elif move == "spike":
            # Up by more than 1/L: the NAV goes to zero.
            answer = answer + answer * WAD // self.model.leverage + answer // 50
        else:
            answer = max(answer + answer * move // 10_000, 1)
            if held % 4 == 0:  # now and then a round price (a whole cent): a reference
                answer = max(answer // 10**6, 1) * 10**6  # a whole per cent can move exactly
        self._push(answer, kind, held)

    def _push(self, answer: int, kind: str = "normal", held: int = 0):
        """A round of `answer` at `self.now` (see `publish_round` for `kind`)."""
        oracle = self.model.oracle
        if kind == "new_phase":
            data = calldata("new_phase(int256)", ["int256"], [answer])
            self.send(self.feed, data, self.owner, gas=300_000)
            oracle.new_phase(answer, self.head_time)
        else:
            # Nor does it run backwards: a round dated ahead is followed by later ones.
            self.now = max(self.now, oracle.rounds[oracle.latest_round].updated_at + 1)
            started = updated = self.now
            if kind == "invalid":
                answer = -answer if held % 2 else 0
            elif kind == "huge":
                answer = MAX_PRICE // oracle.to_wad + held
            elif kind == "incomplete":
                updated = 0
            elif kind == "future":
                updated = self.now + held
            if kind == "held":
                last_started = oracle.rounds[oracle.phase_latest[oracle.phase]].started_at
                started = max(self.now - held, last_started)
            unanswered = oracle.latest_round
            if oracle.rounds[unanswered].updated_at == 0 and unanswered >> PHASE_SHIFT == oracle.phase:
                # An unanswered round is answered in place: a feed's history has no
                # gaps (Chainlink's aggregators never leave one behind a later round).
                data = calldata(
                    "set_round(uint80,int256,uint256,uint256)",
                    ["uint80", "int256", "uint256", "uint256"],
                    [unanswered, answer, started, updated],
                )
                oracle._set_round(unanswered, answer, started, updated)
            else:
                data = calldata(
                    "push_round(int256,uint256,uint256)", ["int256", "uint256", "uint256"], [answer, started, updated]
                )
                oracle.push_round(answer, started, updated)
            assert self.send(self.feed, data, self.owner, gas=300_000)["status"] == 1
        note(f"round {kind} answer {answer} at {self.head_time}")
        event(f"round {kind}")

    @rule(side=st.sampled_from([1, -1]), short=st.booleans(), rebalance=st.booleans())
    def round_at_the_threshold(self, side, short, rebalance):
        """A round that moves the price from the reference by exactly the threshold
        (to the feed's unit, rounded up), or a unit short of it; then, maybe, a
        rebalance. A `>` for `>=` in the threshold shows only there."""
        m = self.model
        reference = m.reference_price // m.oracle.to_wad  # a feed answer, so exact
        move = -(-reference * m.threshold // WAD) - short
        if reference <= move:
            return
        self._push(reference + side * move)
        event(f"round at the threshold{' - 1' if short else ''}")
        if rebalance:
            self.rebalance(keeper=4, fresh=False, settle_first=True)

    @rule(
        bound=st.sampled_from(["order T", "order expiry", "rebalance interval", "parameters ready", "price max age"]),
        offset=st.integers(-2, 1),
        then=st.sampled_from(["round", "settle", "rebalance"]),
    )
    def at_a_bound(self, bound, offset, then):
        """Time aimed at a bound's second, or one either side, where a `>` for `>=`
        shows: a round published, a settle or a rebalance sent there (a rebalance
        reads `rebalance_due` a block before it sends)."""
        m = self.model
        head = m.orders[m.head] if m.head != m.tail else None
        latest = m.oracle.rounds[m.oracle.latest_round]
        second = {
            "order T": head and head.not_before,
            "order expiry": head and head.expires_at,
            "rebalance interval": m.last_rebalance + m.interval,
            "parameters ready": m.parameters_ready_at,
            "price max age": latest.updated_at + m.oracle.max_age,
        }[bound]
        if not second or second + offset < self.now:
            return
        self.now = second + offset
        event(f"at a bound: {bound}")
        if then == "round":
            self._push(self._good_answer())
        elif then == "settle":
            self.settle(settler=4, limit=MAX_BATCH)
        else:
            self.rebalance(keeper=4, fresh=False, settle_first=False)

    def _good_answer(self) -> int:
        for r in sorted(self.model.oracle.rounds.items(), reverse=True):
            if 0 < r[1].answer <= MAX_PRICE // self.model.oracle.to_wad:
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
        assert self.send(self.feed, data, self.owner, gas=100_000)["status"] == 1
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
        due = self._due(limit)
        return [order.as_struct() for order, _, _ in due], [round_id for _, round_id, _ in due]

    def _due(self, limit: int) -> list[tuple]:
        # The keeper's search for each order's round, over the pending orders: the model's,
        # which every request's `OrderRequested` event was checked to equal.
        m = self.model
        return due_orders(m.pending[:limit], self.raw_feed, self.now, m.is_shutdown, limit)

    @rule(settler=st.integers(0, 4), limit=st.sampled_from([1, 2, 3, MAX_BATCH]), start=st.booleans())
    def settle(self, settler, limit, start=False):
        """Settle what is due, by any actor, in batches as the keeper builds them;
        with nothing due, a settle of the head order at its phase's last round or
        at its start (which proves "no round came" only when the feed says so, not
        while it reverts) must revert."""
        who = self.settlers[settler]
        due = self._due(limit)
        orders, round_ids = [order.as_struct() for order, _, _ in due], [round_id for _, round_id, _ in due]
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
            if due:  # the keeper knew which orders were void (they pay it nothing)
                void = {order.id: void for order, _, void in due}  # held deposits settle later, or last
                assert all(void[s.order_id] == (s.outcome == OUTCOME_VOID) for s in done[1])
        elif outage_start:
            self.figures["phase start refused"] += 1

    @rule(settler=st.integers(0, 4), gas=st.integers(60_000, 600_000))
    def settle_with_little_gas(self, settler, gas):
        """The gas a settler sends never changes an outcome: the call reverts and
        changes nothing, or settles exactly as the model does (or, below what its
        calldata costs, it is not even included)."""
        who = self.settlers[settler]
        orders, round_ids = self._batch(MAX_BATCH)
        if not orders:
            return
        trial = self.model.copy()
        expected = trial.settle(who, orders, round_ids, self.now)
        receipt = self.send(self.book, settle_data(orders, round_ids), who, gas=gas)
        status = "not included" if receipt["status"] is None else f"status {receipt['status']}"
        event(f"low gas settle: {status}")
        self.outcomes[f"low gas settle: {status}"] += 1
        if receipt["status"] == 1:
            self.model = trial
            self.check_settled(receipt, expected)

    @rule(first=st.integers(0, 4), second=st.integers(0, 4), split=st.integers(1, 3))
    def competing_settlers(self, first, second, split):
        """Two settlers race with the same batch: the second skips what the first settled."""
        orders, round_ids = self._due_batch()
        if len(orders) < 2:
            return
        a, b = self.settlers[first], self.settlers[second]
        # The first takes at least one queue order: held deposits handed back alone
        # settle nothing while their round goes on.
        held = sum(Order(*o).id < self.model.head for o in orders)
        split = min(max(split, held + 1), len(orders) - 1)
        if split <= held:
            return
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

    @rule(settler=st.integers(0, 4), delta=st.sampled_from([-1, 1, 2, 0]))
    def settle_at_a_wrong_round(self, settler, delta):
        """A round that is not the order's: reverts (or the order waits). 0: a
        next-phase proof cut to one part (its phase's void, or the round alone)."""
        orders, round_ids = self._batch(1)
        if not orders or not round_ids[0]:
            return
        who = self.settlers[settler]
        ids = [round_ids[0] + delta]
        if delta == 0:
            if round_ids[0] >> NEXT_PHASE_SHIFT == 0:
                return
            ids = [round_ids[0] >> NEXT_PHASE_SHIFT if settler % 2 else round_ids[0] & ROUND_ID_MASK]
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
        a, b = self.settlers[first], self.settlers[second]
        kinds = {o[0]: o[1] for o in orders}
        snapshot = self.rpc("evm_snapshot")
        saved_now = self.now
        first_receipt = self.send(self.book, settle_data(orders, round_ids), a)
        assert first_receipt["status"] == 1
        now_events = {s.order_id: s for s in settled_events(first_receipt, self.pool)}
        self.rpc("evm_revert", snapshot)
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
                self.figures["void shutdowns settled twice"] += 1
            assert now_event.amounts() == later_event.amounts(), (now_event, later_event)
            if now_event.outcome != OUTCOME_VOID:
                assert now_event.round_id == later_event.round_id
        self.figures["time independence checks"] += len(now_events)

    # ------------------------------------------------------------ rebalance and admin

    @rule(keeper=st.integers(0, 4), fresh=st.booleans(), settle_first=st.booleans())
    def rebalance(self, keeper, fresh, settle_first):
        """`rebalance_due()` agrees with what `rebalance()` then does; refused while
        an order whose round is out waits."""
        if fresh:
            self.publish_round(move=0, wait=1, kind="normal", held=0)
        if settle_first:
            self.settle(keeper, MAX_BATCH)
        who = self.settlers[keeper]
        queued = self.model.parameters_ready_at
        self.mine()
        due = self.view("rebalance_due()", "bool")
        assert due == self.model.rebalance_due(self.head_time)
        done = self.expect(
            "rebalance", lambda m, t: m.rebalance(who, t), self.pool, calldata("rebalance()", [], []), who
        )
        if done is None:
            return
        if queued and not self.model.parameters_ready_at:
            self.outcomes["rebalance: applied the queued parameters"] += 1
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
        owner = self.owner
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
            owner = self.owner
            self.expect("unpause", lambda m, t: m.unpause(owner), self.pool, calldata("unpause()", [], []), owner)
        else:
            guardian = self.guardian
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
        # 0: the default; else a whole per cent, up to 0.5 / L (a bound a round
        # price can meet exactly).
        threshold_percent=st.one_of(st.just(0), st.integers(1, 50)),
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
        threshold_percent,
        cancel,
    ):
        """A change waits out the delay and applies at the next rebalance; then new
        fees and order terms apply to new orders only; T never decreases."""
        if cancel == 3:
            owner = self.owner
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
        if threshold_percent:
            params["threshold"] = min(threshold_percent, 50 * WAD // self.model.leverage) * WAD // 100
        self._queue_parameters(params, self.owner)

    def _queue_parameters(self, params: dict, sender: str):
        values = tuple(params[name] for name in ORDER_PARAMETER_NAMES)
        data = calldata(f"queue_parameters({PARAMS_TYPE})", [PARAMS_TYPE], [values])
        done = self.expect(
            "queue_parameters", lambda m, t: m.queue_parameters(sender, params, t), self.pool, data, sender
        )
        if done is not None:
            assert self.view("queued_parameters()", PARAMS_TYPE) == values

    # ------------------------------------------------------------ invariants

    @invariant()
    def contract_equals_model_and_is_solvent(self):
        self.steps += 1
        self.figures["steps"] += 1
        values = self._views.read(self.rpc)
        m = self.model
        for name, value in values.items():
            assert name.startswith("priced:") or not isinstance(value, Reverted), (name, value)
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
        assert values["head"] == m.book_head()
        assert values["held_deposits"] == m.held_deposits()
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

        # The views at the current price: the model's numbers, or its revert (no price).
        t = self.head_time
        model_views = {
            "nav": lambda: m.nav(t),
            "inverse_value": lambda: m.inverse_value(t),
            "lp_value": lambda: m.lp_value(t),
            "max_mint": lambda: m.max_mint(t),
            "max_lp_withdraw": lambda: m.max_lp_withdraw(t),
            "preview_mint": lambda: m.preview_mint(1_000 * self.unit, t),
            "preview_redeem": lambda: m.preview_redeem(10**21, t),
            "preview_lp_deposit": lambda: m.preview_lp_deposit(1_000 * self.unit, t),
            "preview_lp_withdraw": lambda: m.preview_lp_withdraw(10**21, t),
        }
        priced = {}
        for name, model_view in model_views.items():
            try:
                expected = model_view()
            except Revert as revert:
                expected = ("revert", "" if isinstance(revert, Overflow) else revert.reason)
            actual = values[f"priced:{name}"]
            if isinstance(actual, Reverted):
                actual = ("revert", actual.reason)
            assert actual == expected, name
            priced[name] = actual
        if isinstance(priced["nav"], tuple):
            return  # no price
        # A = S*n + V_lp, with S*n rounded up (what the pool owes) and V_lp >= 0.
        supply, nav = values["totalSupply"], priced["nav"]
        assert priced["inverse_value"] == ceil_div(supply * nav, 10 ** (36 - self.decimals))
        assert priced["inverse_value"] + priced["lp_value"] == values["total_assets"]
        if supply:
            assert nav <= values["total_assets"] * 10 ** (36 - self.decimals) // supply


MARKETS = [(6, 1), (18, 1), (6, 3), (18, 3)]


@pytest.mark.parametrize("decimals, leverage", MARKETS, ids=[f"{d}dec-{lev}x" for d, lev in MARKETS])
def test_order_state_machine(accounts, decimals, leverage):
    started = time.monotonic()
    # A deployer of its own (not the LP cycle machine's): ape caches contract types by
    # address, and addresses come from (sender, nonce). The shortest parameter delay:
    # a queued change becomes ready within an example.
    market = deploy_market(accounts, accounts[11], decimals, leverage, parameter_delay=MIN_PARAMETER_DELAY)
    run_machine(OrderMachine, market, started)
