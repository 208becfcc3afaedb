"""Stateful fuzzing of one market on Anvil, held to the reference model to the wei.

Hypothesis drives random sequences of user actions, oracle moves and faults, time
warps, admin actions and bad inputs against the deployed contracts, applies each
to `inverse.model.PoolModel` as well, and after every step checks that every number
the contracts expose equals the model's and that the pool is solvent. Some rules
run inside a nested chain snapshot to check properties without disturbing the run:
round trips are unprofitable and everyone can always exit.

Each example starts from a fresh snapshot of the same deployment and restores it in
`teardown` (ape isolates per test, not per example).
"""

import time
from collections import Counter
from dataclasses import dataclass

import ape
import pytest
from ape import chain
from eth_abi import decode
from hypothesis import event, note, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from web3.exceptions import ContractLogicError as Web3ContractLogicError

from inverse.constants import (
    MAX_INTERVAL,
    MAX_KEEPER_BOUNTY_UNITS,
    MAX_MANAGEMENT_FEE,
    MAX_MIN_BACKING,
    MAX_PRICE,
    MAX_THRESHOLD,
    MAX_TRADE_FEE,
    MIN_INTERVAL,
    MIN_MIN_BACKING,
    MIN_THRESHOLD,
    PARAMETER_NAMES,
    WAD,
)
from inverse.deploy import deploy_mock_system
from inverse.model import PoolModel, Revert
from tests.conftest import FUZZ_SUMMARY
from tests.fuzz.chain_views import BatchReader

ZERO = "0x" + "00" * 20
FEED_DECIMALS = 8
GRACE = 3_600
# What is left after everyone exits: the virtual LP share's part and rounding.
EXIT_DUST = 10
ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)

# What the runs did, for the summary at the end of the test session.
RUN = Counter()
OUTCOMES = Counter()


@dataclass
class FeedModel:
    """The mock feed and sequencer as the oracle adapter sees them."""

    answer: int
    updated_at: int
    reverting: bool
    sequencer_down: bool
    sequencer_since: int
    max_age: int
    good_answer: int  # the last valid answer, to recover to

    def price(self, now: int) -> tuple[int | None, str | None]:
        """(price WAD, None) or (None, the adapter's revert reason) at time `now`."""
        if self.sequencer_down:
            return None, "oracle: sequencer down"
        if now - self.sequencer_since <= GRACE:
            return None, "oracle: sequencer grace period"
        if self.reverting:
            return None, "oracle: feed unavailable"
        if self.answer <= 0:
            return None, "oracle: non-positive price"
        if self.answer * 10 ** (18 - FEED_DECIMALS) > MAX_PRICE:
            return None, "oracle: price too large"
        if self.updated_at == 0:
            return None, "oracle: incomplete round"
        if self.updated_at > now:
            return None, "oracle: future timestamp"
        if now - self.updated_at > self.max_age:
            return None, "oracle: stale price"
        return self.answer * 10 ** (18 - FEED_DECIMALS), None


parameter_sets = st.fixed_dictionaries(
    {
        "interval": st.integers(MIN_INTERVAL, MAX_INTERVAL),
        "threshold": st.integers(MIN_THRESHOLD, MAX_THRESHOLD),
        "mint_fee": st.integers(0, MAX_TRADE_FEE),
        "redeem_fee": st.integers(0, MAX_TRADE_FEE),
        "management_fee": st.integers(0, MAX_MANAGEMENT_FEE),
        "keeper_bounty_units": st.integers(0, MAX_KEEPER_BOUNTY_UNITS),
        "min_backing": st.integers(MIN_MIN_BACKING, MAX_MIN_BACKING),
    }
)

# Price moves in basis points of the current price, by kind.
price_moves = st.one_of(
    st.integers(-200, 200),  # small
    st.integers(-3_000, 3_000),  # large
    st.sampled_from(["past_one_over_l", "crash"]),
)


class PoolMachine(RuleBasedStateMachine):
    """One market; `system`, `actors`, `owner`, `guardian`, `keeper` are set by the test."""

    system = None
    actors = ()
    owner = guardian = keeper = None
    decimals = 6

    def __init__(self):
        super().__init__()
        self.snapshot = chain.snapshot()
        s = self.system
        self.pool = s.pools[next(iter(s.pools))]
        self.lp_token = ape.project.LpToken.at(self.pool.lp_token())
        self.unit = 10**self.decimals
        head = chain.blocks.head.timestamp
        self.head_time = head
        self.now = head + 1
        self.model = PoolModel(
            leverage=self.pool.leverage(),
            collateral_decimals=self.decimals,
            reference_price=self.pool.reference_price(),
            reference_nav=self.pool.reference_nav(),
            last_rebalance=self.pool.last_rebalance(),
            total_assets=self.pool.total_assets(),
            **{name: getattr(self.pool, name)() for name in PARAMETER_NAMES},
        )
        round_data = s.feed.latestRoundData()
        sequencer = s.sequencer_feed.latestRoundData()
        self.feed = FeedModel(
            answer=round_data[1],
            updated_at=round_data[3],
            reverting=False,
            sequencer_down=False,
            sequencer_since=sequencer[2],
            max_age=s.oracle.max_age(),
            good_answer=round_data[1],
        )
        self.web3 = chain.provider.web3
        self.views = self._build_views()
        self.steps = 0

    def teardown(self):
        chain.restore(self.snapshot)
        RUN["examples"] += 1

    # ------------------------------------------------------------ plumbing

    def _build_views(self) -> BatchReader:
        pool, lp = self.pool.address, self.lp_token.address
        reader = BatchReader(chain.provider.web3)
        for name in ("total_assets", "totalSupply", "reference_price", "reference_nav", "last_rebalance"):
            reader.add(name, pool, f"{name}()")
        for name in PARAMETER_NAMES:
            reader.add(name, pool, f"{name}()")
        reader.add("paused", pool, "paused()", out="bool")
        reader.add("is_shutdown", pool, "is_shutdown()", out="bool")
        reader.add("lp_supply", lp, "totalSupply()")
        reader.add("pool_collateral", self.system.collateral.address, "balanceOf(address)", [pool], ["address"])
        for actor in self.actors:
            reader.add(f"bal:{actor.address}", pool, "balanceOf(address)", [actor.address], ["address"])
            reader.add(f"lp:{actor.address}", lp, "balanceOf(address)", [actor.address], ["address"])
        reader.add("rebalance_due", pool, "rebalance_due()", out="bool")
        priced = BatchReader(chain.provider.web3)
        for name in ("nav", "inverse_value", "lp_value", "max_mint", "max_lp_withdraw"):
            priced.add(name, pool, f"{name}()")
        priced.add("preview_mint", pool, "preview_mint(uint256)", [1_000 * self.unit], ["uint256"])
        priced.add("preview_redeem", pool, "preview_redeem(uint256)", [10**21], ["uint256"])
        priced.add("preview_lp_deposit", pool, "preview_lp_deposit(uint256)", [1_000 * self.unit], ["uint256"])
        priced.add("preview_lp_withdraw", pool, "preview_lp_withdraw(uint256)", [10**21], ["uint256"])
        self.priced_views = priced
        return reader

    def price_at(self, when: int) -> tuple[int | None, str | None]:
        return self.feed.price(when)

    def send(self, call, *args, sender):
        """A transaction mined at `self.now`."""
        chain.pending_timestamp = self.now
        receipt = call(*args, sender=sender)
        self.head_time = self.now
        self.now += 1
        return receipt

    def assert_reverts(self, reason, call, *args, sender):
        """`call` evaluated in a block at `self.now` reverts with `reason`. Checked
        with eth_call: cheaper than a failing transaction and nothing is mined
        but the empty block that fixes the time."""
        chain.mine(timestamp=self.now)
        self.head_time, self.now = self.now, self.now + 1
        tx = {"from": sender.address, "to": call.contract.address, "data": call.encode_input(*args)}
        try:
            self.web3.eth.call(tx, "latest")
        except Web3ContractLogicError as error:
            data = bytes.fromhex(str(error.data)[2:])
            assert data[:4] == ERROR_SELECTOR, error
            assert decode(["string"], data[4:])[0] == reason
        else:
            raise AssertionError(f"expected a revert with {reason!r}")

    def expect(self, operation, call, *args, sender):
        """Run `operation(model_copy, price, now)`; the chain must do the same: revert
        with the same reason (and change nothing), or succeed with the same result."""
        trial = self.model.copy()
        price, oracle_reason = self.price_at(self.now)
        try:
            expected = operation(trial, price, self.now)
        except Revert as revert:
            reason = oracle_reason if revert.reason == "oracle: no valid price" else revert.reason
            note(f"expect revert {reason!r}")
            event(f"{call.abis[0].name}: {reason}")
            OUTCOMES[f"{call.abis[0].name}: {reason}"] += 1
            self.assert_reverts(reason, call, *args, sender=sender)
            return None
        event(f"{call.abis[0].name}: ok")
        OUTCOMES[f"{call.abis[0].name}: ok"] += 1
        receipt = self.send(call, *args, sender=sender)
        self.model = trial
        if expected is not None:
            actual = receipt.return_value
            expected_value = expected[0] if isinstance(expected, tuple) else expected
            if isinstance(expected_value, dict):
                expected_value = expected_value["bounty"]
            assert actual == expected_value, (actual, expected)
        return receipt

    def in_nested_snapshot(self, check):
        """Run `check()` and put the chain, the clock and the model back."""
        snapshot = chain.snapshot()
        saved = (self.model.copy(), self.now, self.head_time, FeedModel(**self.feed.__dict__))
        try:
            check()
        finally:
            chain.restore(snapshot)
            self.model, self.now, self.head_time, self.feed = saved

    def deadline(self) -> int:
        return self.now + 3_600

    def pick(self, balances: dict, index: int):
        """An actor holding something in `balances` when there is one, so that most
        redeems and withdrawals are real ones; else the `index`th actor."""
        holders = [a for a in self.actors if balances.get(a.address, 0) > 0]
        return holders[index % len(holders)] if holders else self.actors[index]

    # ------------------------------------------------------------ setup

    @initialize(
        lp_index=st.integers(0, 3),
        units=st.integers(1_000, 1_000_000),
        minter_index=st.integers(0, 3),
        per_mille=st.integers(0, 1_000),
    )
    def seed(self, lp_index, units, minter_index, per_mille):
        """Every run starts with LP liquidity and, mostly, a first mint."""
        actor = self.actors[lp_index]
        self.expect(
            lambda m, p, t: m.lp_deposit(actor.address, units * self.unit, 0, actor.address, t + 3_600, p, t),
            self.pool.lp_deposit,
            units * self.unit,
            0,
            actor,
            self.now + 3_600,
            sender=actor,
        )
        if per_mille:
            self.mint(minter_index, per_mille, 0)

    # ------------------------------------------------------------ holders

    @rule(index=st.integers(0, 3), per_mille=st.integers(1, 1_100), dust=st.integers(0, 10**6))
    def mint(self, index, per_mille, dust):
        actor = self.actors[index]
        price, _ = self.price_at(self.now)
        capacity = self.model.max_mint(price) if price is not None or self.model.is_shutdown else 0
        assets = max(capacity * per_mille // 1_000, 1) if capacity else dust + 1
        preview = self.model.preview_mint(assets, price) if price else 0
        note(f"mint {assets} by {index} (capacity {capacity})")
        receipt = self.expect(
            lambda m, p, t: m.mint(actor.address, assets, 0, actor.address, t + 3_600, p, t),
            self.pool.mint,
            assets,
            0,
            actor,
            self.deadline(),
            sender=actor,
        )
        if receipt is not None:
            assert receipt.return_value == preview  # previews equal what the call does

    @rule(index=st.integers(0, 3), per_mille=st.integers(1, 1_000), to=st.integers(0, 3))
    def redeem(self, index, per_mille, to):
        actor, receiver = self.pick(self.model.balances, index), self.actors[to]
        shares = max(self.model.balances.get(actor.address, 0) * per_mille // 1_000, 1)
        note(f"redeem {shares} by {index} to {to}")
        self.expect(
            lambda m, p, t: m.redeem(actor.address, shares, 0, receiver.address, t + 3_600, p, t),
            self.pool.redeem,
            shares,
            0,
            receiver,
            self.deadline(),
            sender=actor,
        )

    @rule(index=st.integers(0, 3), to=st.integers(0, 3), per_mille=st.integers(1, 1_000))
    def transfer(self, index, to, per_mille):
        actor, receiver = self.pick(self.model.balances, index), self.actors[to]
        amount = self.model.balances.get(actor.address, 0) * per_mille // 1_000
        self.expect(
            lambda m, p, t: m.transfer(actor.address, receiver.address, amount),
            self.pool.transfer,
            receiver,
            amount,
            sender=actor,
        )

    # ------------------------------------------------------------ liquidity providers

    @rule(index=st.integers(0, 3), units=st.integers(0, 200_000), wei=st.integers(0, 10**6))
    def lp_deposit(self, index, units, wei):
        actor = self.actors[index]
        assets = units * self.unit + wei
        if assets == 0:
            return
        price, _ = self.price_at(self.now)
        preview = self.model.preview_lp_deposit(assets, price) if price else None
        receipt = self.expect(
            lambda m, p, t: m.lp_deposit(actor.address, assets, 0, actor.address, t + 3_600, p, t),
            self.pool.lp_deposit,
            assets,
            0,
            actor,
            self.deadline(),
            sender=actor,
        )
        if receipt is not None and preview is not None:
            assert receipt.return_value == preview

    @rule(index=st.integers(0, 3), per_mille=st.integers(1, 1_000))
    def lp_withdraw(self, index, per_mille):
        actor = self.pick(self.model.lp_balances, index)
        shares = max(self.model.lp_balances.get(actor.address, 0) * per_mille // 1_000, 1)
        self.expect(
            lambda m, p, t: m.lp_withdraw(actor.address, shares, 0, actor.address, t + 3_600, p, t),
            self.pool.lp_withdraw,
            shares,
            0,
            actor,
            self.deadline(),
            sender=actor,
        )

    @rule(units=st.integers(1, 10_000))
    def donate(self, units):
        """Collateral sent straight to the pool changes nothing (checked by the invariants)."""
        actor = self.actors[0]
        self.send(self.system.collateral.transfer, self.pool, units * self.unit, sender=actor)

    # ------------------------------------------------------------ oracle and time

    @rule(move=price_moves)
    def move_price(self, move):
        leverage = self.model.leverage
        answer = self.feed.good_answer
        if move == "past_one_over_l":
            answer = answer * (WAD + WAD * WAD // leverage + WAD // 20) // WAD
        elif move == "crash":
            answer = answer * 45 // 100
        else:
            answer = answer * (10_000 + move) // 10_000
        answer = max(answer, 10**3)
        note(f"price -> {answer}")
        self.send(self.system.feed.set_answer, answer, sender=self.owner)
        self.feed.answer = self.feed.good_answer = answer
        self.feed.updated_at = self.head_time

    @rule(seconds=st.one_of(st.integers(1, 600), st.integers(600, 3 * 86_400), st.sampled_from([3_600, 86_400])))
    def warp(self, seconds):
        """Time passes with no new answer (long warps make the price stale)."""
        chain.mine(timestamp=self.now + seconds)
        self.head_time = self.now + seconds
        self.now = self.head_time + 1

    @rule(fault=st.sampled_from(["zero", "negative", "reverting", "future", "incomplete"]), go=st.integers(0, 2))
    def oracle_fault(self, fault, go):
        if go:
            return
        feed = self.system.feed
        if fault == "reverting":
            self.send(feed.set_reverting, True, sender=self.owner)
            self.feed.reverting = True
            return
        answer, updated = self.feed.good_answer, self.now
        if fault == "zero":
            answer = 0
        elif fault == "negative":
            answer = -answer
        elif fault == "future":
            updated = self.now + 10_000
        elif fault == "incomplete":
            updated = 0
        self.send(feed.set_round, 1_000 + self.steps, answer, updated, updated, sender=self.owner)
        self.feed.answer, self.feed.updated_at = answer, updated

    @rule()
    def oracle_recover(self):
        """The feed answers again (and the sequencer, if it was down, has long been back)."""
        if self.feed.sequencer_down or self.now - self.feed.sequencer_since <= GRACE:
            self.send(self.system.sequencer_feed.set_round, 9_999, 0, 1, 1, sender=self.owner)
            self.feed.sequencer_down, self.feed.sequencer_since = False, 1
        self.send(self.system.feed.set_reverting, False, sender=self.owner)
        self.send(self.system.feed.set_answer, self.feed.good_answer, sender=self.owner)
        self.feed.reverting = False
        self.feed.answer, self.feed.updated_at = self.feed.good_answer, self.head_time

    @rule(go=st.integers(0, 2))
    def sequencer(self, go):
        """The L2 sequencer goes down, or comes back (and the grace period starts)."""
        if go:
            return
        down = not self.feed.sequencer_down
        self.send(
            self.system.sequencer_feed.set_round, 1_000 + self.steps, int(down), self.now, self.now, sender=self.owner
        )
        self.feed.sequencer_down = down
        self.feed.sequencer_since = self.head_time

    # ------------------------------------------------------------ rebalance

    @rule(fresh_price=st.booleans())
    def rebalance(self, fresh_price):
        # Keepers mostly act on a fresh answer (as after a heartbeat update).
        if fresh_price:
            self.oracle_recover()
        # rebalance_due() seen now must be what the transaction then finds.
        chain.mine(timestamp=self.now)
        self.head_time, self.now = self.now, self.now + 1
        due = self.pool.rebalance_due()
        price, _ = self.price_at(self.head_time)
        assert due == self.model.rebalance_due(price, self.head_time)
        receipt = self.expect(lambda m, p, t: m.rebalance(p, t), self.pool.rebalance, sender=self.keeper)
        if due:
            assert receipt is not None, "rebalance_due() said yes but rebalance() reverted"

    # ------------------------------------------------------------ admin

    @rule(go=st.integers(0, 3))
    def pause_or_unpause(self, go):
        if go:
            return
        if self.model.paused:
            self.expect(lambda m, p, t: m.unpause(), self.pool.unpause, sender=self.owner)
        else:
            self.expect(lambda m, p, t: m.pause(), self.pool.pause, sender=self.guardian)

    @rule(go=st.integers(0, 19))
    def shutdown(self, go):
        if go or self.model.is_shutdown:
            return
        price, _ = self.price_at(self.now)
        self.send(self.pool.shutdown, sender=self.owner)
        self.model.shutdown(price)

    @rule(params=parameter_sets)
    def set_parameters(self, params):
        params = dict(params)
        params["keeper_bounty"] = params.pop("keeper_bounty_units") * self.unit
        self.expect(lambda m, p, t: m.set_parameters(params), self.pool.set_parameters, params, sender=self.owner)

    # ------------------------------------------------------------ bad input

    @rule(
        kind=st.sampled_from(
            [
                "zero_mint",
                "zero_redeem",
                "zero_receiver",
                "deadline",
                "slippage_mint",
                "slippage_redeem",
                "redeem_above_balance",
                "withdraw_above_balance",
                "stranger_admin",
                "stranger_pause",
                "params_out_of_bounds",
            ]
        ),
        index=st.integers(0, 3),
    )
    def bad_input(self, kind, index):
        """Each must revert with its reason and change nothing (the invariants check that)."""
        actor, pool, now = self.actors[index], self.pool, self.now
        price, oracle_reason = self.price_at(now)
        if kind == "stranger_admin":
            self.assert_reverts("ownable: caller is not the owner", pool.shutdown, sender=actor)
            return
        if kind == "stranger_pause":
            self.assert_reverts("pool: caller is not the guardian", pool.pause, sender=actor)
            return
        if kind == "params_out_of_bounds":
            params = self.model.params() | {"mint_fee": MAX_TRADE_FEE + 1}
            self.expect(lambda m, p, t: m.set_parameters(params), pool.set_parameters, params, sender=self.owner)
            return
        balance = self.model.balances.get(actor.address, 0)
        lp_balance = self.model.lp_balances.get(actor.address, 0)
        past = now - 10_000
        cases = {
            "zero_mint": (
                lambda m, p, t: m.mint(actor.address, 0, 0, actor.address, t + 60, p, t),
                pool.mint,
                (0, 0, actor, now + 60),
            ),
            "zero_redeem": (
                lambda m, p, t: m.redeem(actor.address, 0, 0, actor.address, t + 60, p, t),
                pool.redeem,
                (0, 0, actor, now + 60),
            ),
            "zero_receiver": (
                lambda m, p, t: m.lp_deposit(actor.address, self.unit, 0, None, t + 60, p, t),
                pool.lp_deposit,
                (self.unit, 0, ZERO, now + 60),
            ),
            "deadline": (
                lambda m, p, t: m.lp_deposit(actor.address, self.unit, 0, actor.address, past, p, t),
                pool.lp_deposit,
                (self.unit, 0, actor, past),
            ),
            "slippage_mint": (
                lambda m, p, t: m.mint(actor.address, self.unit, 10**40, actor.address, t + 60, p, t),
                pool.mint,
                (self.unit, 10**40, actor, now + 60),
            ),
            "slippage_redeem": (
                lambda m, p, t: m.redeem(actor.address, max(balance, 1), 10**40, actor.address, t + 60, p, t),
                pool.redeem,
                (max(balance, 1), 10**40, actor, now + 60),
            ),
            "redeem_above_balance": (
                lambda m, p, t: m.redeem(actor.address, balance + 1, 0, actor.address, t + 60, p, t),
                pool.redeem,
                (balance + 1, 0, actor, now + 60),
            ),
            "withdraw_above_balance": (
                lambda m, p, t: m.lp_withdraw(actor.address, lp_balance + 1, 0, actor.address, t + 60, p, t),
                pool.lp_withdraw,
                (lp_balance + 1, 0, actor, now + 60),
            ),
        }
        operation, call, args = cases[kind]
        trial = self.model.copy()
        try:
            operation(trial, price, now)
        except Revert as revert:
            reason = oracle_reason if revert.reason == "oracle: no valid price" else revert.reason
            self.assert_reverts(reason, call, *args, sender=actor)
            return
        # Not a bad input in this state after all (a slippage bound that happens to
        # hold cannot, at 10**40): nothing to check.
        raise AssertionError(f"{kind} was expected to revert")

    # ------------------------------------------------------------ properties in a nested snapshot

    @precondition(lambda self: not self.model.paused and not self.model.is_shutdown)
    @rule(index=st.integers(0, 3), per_mille=st.integers(1, 1_000), fee_share=st.integers(0, 99))
    def round_trip_is_unprofitable(self, index, per_mille, fee_share):
        """Mint then redeem at one price never returns more than was paid; nor does
        a round trip across a NAV move smaller than the two fees."""
        actor = self.actors[index]
        price, _ = self.price_at(self.now)
        if price is None:
            return
        capacity = self.model.max_mint(price)
        assets = capacity * per_mille // 1_000
        if assets == 0 or self.model.preview_mint(assets, price) == 0:
            return

        def check():
            shares = self.send(self.pool.mint, assets, 0, actor, self.deadline(), sender=actor).return_value
            # A NAV gain for holders smaller than the fees (fee_share % of them).
            m = self.model
            fees = m.mint_fee + m.redeem_fee
            nav = m.nav(price)
            if fees and nav and fee_share:
                gain = fees * fee_share // 100  # WAD fraction of the NAV
                # NAV is linear in price between rebalances: dn = -n0 * L * dP / P0.
                drop = gain * nav * m.reference_price // (m.reference_nav * m.leverage)
                if drop < price:
                    # Round the new answer up: a slightly smaller gain, never a larger one.
                    scale = 10 ** (18 - FEED_DECIMALS)
                    answer = -(-(price - drop) // scale)
                    self.send(self.system.feed.set_answer, answer, sender=self.owner)
            out = self.send(self.pool.redeem, shares, 0, actor, self.deadline(), sender=actor).return_value
            note(f"round trip: paid {assets}, got back {out}")
            assert out <= assets

        self.in_nested_snapshot(check)

    @precondition(lambda self: not self.model.paused and not self.model.is_shutdown)
    @rule(index=st.integers(0, 3), units=st.integers(1, 100_000))
    def lp_round_trip_is_unprofitable(self, index, units):
        actor = self.actors[index]
        price, _ = self.price_at(self.now)
        if price is None or self.model.preview_lp_deposit(units * self.unit, price) == 0:
            return

        def check():
            shares = self.send(
                self.pool.lp_deposit, units * self.unit, 0, actor, self.deadline(), sender=actor
            ).return_value
            out = self.pool.preview_lp_withdraw(shares)
            assert out <= units * self.unit

        self.in_nested_snapshot(check)

    @rule()
    def everyone_can_exit(self):
        """From any state: holders redeem all, then LPs withdraw all; nothing
        reverts and only dust is left. A dead oracle is revived first (exits need a
        price until shutdown)."""

        def check():
            if not self.model.is_shutdown and self.price_at(self.now)[0] is None:
                self.oracle_recover()
            for actor in self.actors:
                shares = self.pool.balanceOf(actor)
                if shares:
                    self.send(self.pool.redeem, shares, 0, actor, self.deadline(), sender=actor)
            assert self.pool.totalSupply() == 0
            for actor in self.actors:
                shares = self.lp_token.balanceOf(actor)
                if shares:
                    self.send(self.pool.lp_withdraw, shares, 0, actor, self.deadline(), sender=actor)
            assert self.lp_token.totalSupply() == 0
            left = self.pool.total_assets()
            note(f"left after every exit: {left}")
            assert left <= EXIT_DUST

        self.in_nested_snapshot(check)

    # ------------------------------------------------------------ invariants

    @invariant()
    def contract_equals_model_and_is_solvent(self):
        self.steps += 1
        RUN["steps"] += 1
        values = self.views.read()
        m = self.model
        assert values["total_assets"] == m.total_assets
        assert values["totalSupply"] == m.total_supply
        assert values["lp_supply"] == m.lp_supply
        assert values["reference_price"] == m.reference_price
        assert values["reference_nav"] == m.reference_nav
        assert values["last_rebalance"] == m.last_rebalance
        assert values["paused"] == m.paused
        assert values["is_shutdown"] == m.is_shutdown
        for name in PARAMETER_NAMES:
            assert values[name] == getattr(m, name), name
        for actor in self.actors:
            assert values[f"bal:{actor.address}"] == m.balances.get(actor.address, 0)
            assert values[f"lp:{actor.address}"] == m.lp_balances.get(actor.address, 0)
        # Sum of balances equals supply, for both tokens (the actors are the only holders).
        assert sum(values[f"bal:{a.address}"] for a in self.actors) == values["totalSupply"]
        assert sum(values[f"lp:{a.address}"] for a in self.actors) == values["lp_supply"]
        # Solvency: the pool holds at least what it accounts for.
        assert values["pool_collateral"] >= values["total_assets"]

        price, _ = self.price_at(self.head_time)
        assert values["rebalance_due"] == m.rebalance_due(price, self.head_time)
        if price is None and not m.is_shutdown:
            return
        priced = self.priced_views.read()
        assert priced["nav"] == m.nav(price)
        assert priced["inverse_value"] == m.inverse_value(price)
        assert priced["lp_value"] == m.lp_value(price)
        assert priced["inverse_value"] + priced["lp_value"] == values["total_assets"]  # A = S*n + V_lp, V_lp >= 0
        assert priced["max_mint"] == m.max_mint(price)
        assert priced["max_lp_withdraw"] == m.max_lp_withdraw(price)
        assert priced["preview_mint"] == m.preview_mint(1_000 * self.unit, price)
        assert priced["preview_redeem"] == m.preview_redeem(10**21, price)
        assert priced["preview_lp_deposit"] == m.preview_lp_deposit(1_000 * self.unit, price)
        assert priced["preview_lp_withdraw"] == m.preview_lp_withdraw(10**21, price)


MARKETS = [(6, 1), (18, 1), (6, 3), (18, 3)]


@pytest.mark.parametrize("decimals, leverage", MARKETS, ids=[f"{d}dec-{lev}x" for d, lev in MARKETS])
def test_pool_state_machine(accounts, decimals, leverage):
    # A deployer of its own: ape caches contract types by address, and addresses come
    # from (sender, nonce); the owner's nonces would reuse addresses that other tests'
    # contracts held before their snapshots were reverted.
    owner, guardian, keeper = accounts[10], accounts[1], accounts[2]
    actors = tuple(accounts[3:7])
    system = deploy_mock_system(
        owner,
        leverages=(leverage,),
        collateral_decimals=decimals,
        with_sequencer=True,
        instant=True,
        guardian=guardian.address,
    )
    pool = next(iter(system.pools.values()))
    for actor in actors:
        system.collateral.mint(actor, 10**12 * 10**decimals, sender=actor)
        system.collateral.approve(pool, 2**256 - 1, sender=actor)

    machine = type(
        f"PoolMachine_{decimals}dec_{leverage}x",
        (PoolMachine,),
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
    run_state_machine_as_test(machine, settings=settings())
    elapsed = time.monotonic() - start
    FUZZ_SUMMARY.append(
        f"{machine.__name__}: {RUN['examples']} examples, {RUN['steps']} steps in {elapsed:.0f} s "
        f"({RUN['steps'] / elapsed:.1f} steps/s)"
    )
