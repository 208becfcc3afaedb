"""Stateful fuzzing of repeated exhaustion and recapitalisation (issue 11, item 1), on
Anvil, held to `inverse.model.PoolModel` to the wei.

The order machine (`test_order_machine.py`) with rules that drive a -3x market through
cycle after cycle: a round far enough below the reference price that holders are owed
more than the pool holds (the LP side is then worth rounding dust), a recapitalising LP
deposit of 10**2 .. 10**8 units, settlement, and often a rebalance at the crash price.
Requests of every kind (LP withdrawals whose escrowed shares wait through a rescale
among them), rounds, time and rebalances interleave as in the order machine. After every
step the contract equals the model (LP balances and supply included, after any number of
rescales); the model raises on any intermediate past 2**256 and here that fails the run
(no reachable state may overflow); and the LP supply stays within its bound,
supply + virtual < 2**21 * virtual * (LP value + 1) (`LpToken.deposit_shares`), so far
from the 2**120 cap.
"""

import time

import pytest
from hypothesis import event, note
from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from inverse.constants import MAX_BATCH, MAX_PRICE, WAD
from inverse.model import LP_FLOOR_BITS, MAX_LP_SUPPLY, ORDER_LP_WITHDRAW, Overflow, Revert
from tests.fuzz.parallel import deploy_market, run_machine
from tests.fuzz.rpc import calldata
from tests.fuzz.test_order_machine import OrderMachine, settle_data

MARKETS = [(6, 3), (18, 3)]


class LpCycleMachine(OrderMachine):
    """The order machine, narrowed to what exhaustion cycles meet, plus the cycle rules."""

    # Rules of the order machine this one leaves out (they have their own runs there).
    bad_input = feed_outage = settle_with_little_gas = competing_settlers = None
    settle_at_a_wrong_round = settle_is_time_independent = pause_or_unpause = queue_parameters = shutdown = None

    def __init__(self):
        super().__init__()
        self.peak_assets = 0

    def expect(self, label, operation, to, data, sender):
        """As the order machine's, but an arithmetic overflow in the model fails the run."""

        def checked(m, t):
            try:
                return operation(m, t)
            except Overflow as overflow:
                raise AssertionError(f"{label}: an intermediate passed 2**256 ({overflow.value})") from overflow

        return super().expect(label, checked, to, data, sender)

    def _track_peak(self):
        self.peak_assets = max(self.peak_assets, self.model.total_assets)

    def _exhausting_fall(self, extra: int) -> int:
        """The fall from the reference price (WAD) at which holders are owed `extra`
        per cent more than the pool holds (management fee aside)."""
        m = self.model
        owed = m.total_supply * m.reference_nav  # the holders' claim at the reference, scaled
        if owed == 0:
            return WAD
        need = m.total_assets * m.value_scale * (100 + extra)  # times 100
        return max(need - 100 * owed, 0) * WAD // (100 * owed * m.leverage // WAD)

    def _exhausting_move(self, extra: int) -> int:
        """Basis points from the latest answer to that fall (at most 97%)."""
        m = self.model
        latest = self.latest_answer()
        if not 0 < latest <= MAX_PRICE // m.oracle.to_wad:
            latest = self._good_answer()  # as `publish_round` moves from it
        reference = m.reference_price // m.oracle.to_wad
        fall = min(self._exhausting_fall(extra), 97 * WAD // 100)
        target = max(reference - reference * fall // WAD, 1)
        return max((target - latest) * 10_000 // latest, -9_999)

    def _settle_all(self):
        """A round after every pending order's T, then settle what is due."""
        self.publish_round(move=0, wait=self.model.min_delay, kind="normal", held=0)
        self.settle(len(self.settlers) - 1, MAX_BATCH)
        self._track_peak()

    @rule(
        index=st.integers(0, 3),
        units_exp=st.integers(2, 8),
        extra=st.integers(1, 80),
        rebalance=st.booleans(),
        withdrawal=st.one_of(st.just(0), st.integers(1, 1_000)),
    )
    def exhaust_and_recapitalise(self, index, units_exp, extra, rebalance, withdrawal):
        """A whole cycle: holders (minted to the backing limit if too few to exhaust the
        pool), a crash that exhausts it (holders owed `extra` per cent more than it
        holds, or less if the fall would pass 97%), a recapitalising LP deposit,
        settlement (beside, in its block, another LP's request to withdraw
        `withdrawal` per mille of their shares), maybe a rebalance at the crash price."""
        if self.model.oracle.price(self.now) is None:
            self.publish_round(move=0, wait=1, kind="normal", held=0)  # a fresh price
        actor = self.actors[index]
        most = 97 * WAD // 100
        if self._exhausting_fall(extra) > 9 * WAD // 10:
            # Too few holders to exhaust the pool: mint what the backing allows first.
            minter = self.actors[(index + 1) % len(self.actors)]
            capacity = self.model.max_mint(self.now)
            if capacity >= self.model.min_order:
                self._request("mint", minter, capacity, 0, minter, self.now + 3_600)
                self._settle_all()
        if self._exhausting_fall(extra) > most:
            extra = 1
        if self._exhausting_fall(extra) <= most:
            self.publish_round(move=self._exhausting_move(extra), wait=1, kind="normal", held=0)
        m = self.model
        exhausted = m.lp_value(self.now) * 1_000 < self.unit and m.total_supply != 0
        rescales = len(m.lp_rescales)
        assets = max(10**units_exp * self.unit, m.min_order)
        self._request("lp_deposit", actor, assets, 0, actor, self.now + 3_600)
        if withdrawal:
            self.publish_round(move=0, wait=self.model.min_delay, kind="normal", held=0)
            self._settle_beside_a_withdrawal((index + 2) % len(self.actors), withdrawal)
            self._track_peak()
        else:
            self._settle_all()
        if rebalance:
            self.rebalance(len(self.settlers) - 1, False, False)
        self.figures["lp cycles"] += exhausted
        self.figures["rescales"] += len(self.model.lp_rescales) - rescales
        event(f"lp deposit {'into an exhausted pool' if exhausted else 'without exhaustion'}")
        event(f"lp cycle: {len(self.model.lp_rescales) - rescales} rescales")
        note(f"cycle: deposit {assets} by {index}, rescales now {self.model.lp_rescales}")

    def _settle_beside_a_withdrawal(self, index: int, per_mille: int):
        """Settles what is due and, in the same block, an LP requests a withdrawal:
        after a rescale in that settlement it is refused (its share count may be
        from before the rescale) and changes nothing; either way the chain does
        what the model does, and the settlement stands."""
        orders, round_ids = self._batch(MAX_BATCH)
        if not orders:
            return
        keeper, actor = self.settlers[-1], self.actors[index]
        trial = self.model.copy()
        expected = trial.settle(keeper, orders, round_ids, self.now)
        rescaled = len(trial.lp_rescales) != len(self.model.lp_rescales)
        # Shares as the LP saw them before the block, or (odd per mille) after it.
        seen = trial if per_mille % 2 else self.model
        shares = max(seen.lp_balances.get(actor, 0) * per_mille // 1_000, 1)
        deadline = self.now + 3_600
        reason = None
        after = trial.copy()
        try:
            after.request_lp_withdraw(actor, shares, 0, actor, deadline, self.now)
        except Revert as revert:
            reason = revert.reason
        request = calldata(
            "request_lp_withdraw(uint256,uint256,address,uint256)",
            ["uint256", "uint256", "address", "uint256"],
            [shares, 0, actor, deadline],
        )
        settled, requested = self.send_together(
            [(self.book, settle_data(orders, round_ids), keeper), (self.book, request, actor)]
        )
        assert (settled["status"], settled["index"], requested["index"]) == (1, 0, 1)
        self.check_settled(settled, expected)
        settlement = "a settlement that rescaled" if rescaled else "a settlement"
        label = f"request_lp_withdraw in the block of {settlement}: {reason or 'ok'}"
        self.outcomes[label] += 1
        event(label)
        if reason is None:
            assert requested["status"] == 1
            self.model = after
        else:
            assert requested["status"] == 0 and self.mined_reason(requested) == reason, reason
            self.model = trial

    @rule(extra=st.integers(1, 80))
    def exhaust(self, extra):
        """Only the crash: what comes next (withdrawals of worthless shares, deposits,
        rebalances) is the other rules' choice."""
        m = self.model
        if m.total_supply == 0 or m.oracle.reverting:
            return
        self.publish_round(move=self._exhausting_move(extra), wait=1, kind="normal", held=0)

    @invariant()
    def lp_supply_stays_near_par(self):
        self._track_peak()
        m = self.model
        virtual = m.lp_virtual_shares
        assert m.lp_supply <= MAX_LP_SUPPLY
        assert m.lp_supply + virtual <= 2 ** (LP_FLOOR_BITS + 1) * virtual * (self.peak_assets + 1)
        # Escrowed shares always cover what the pending withdrawals will take.
        pending = sum(m.lp_escrowed_now(o.amount, o.requested_at) for o in m.pending if o.kind == ORDER_LP_WITHDRAW)
        assert pending <= m.lp_balances.get(self.pool, 0)


@pytest.mark.parametrize("decimals, leverage", MARKETS, ids=[f"{d}dec-{lev}x" for d, lev in MARKETS])
def test_lp_cycle_machine(accounts, decimals, leverage):
    started = time.monotonic()
    market = deploy_market(accounts, accounts[10], decimals, leverage)
    run_machine(LpCycleMachine, market, started)
