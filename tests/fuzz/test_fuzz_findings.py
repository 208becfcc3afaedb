"""Failures the fuzz machines found (`make fuzz-deep`), each replayed as its shrunk
steps on a worker's Anvil, so a change that brings one back fails here at once. Here,
in the fuzz's own session: the market's state is copied from the node by tracing its
deployment, which a node a long session has run on may refuse."""

from hypothesis import given, settings
from hypothesis import strategies as st

from inverse.constants import MIN_PARAMETER_DELAY
from tests.fuzz.parallel import deploy_market
from tests.fuzz.rpc import Anvil
from tests.fuzz.test_order_machine import OrderMachine


def replay(market, steps):
    """Runs `steps(machine)` on a fresh machine over an Anvil loaded with `market`,
    inside a hypothesis test (the machine notes what it does), then its invariants."""
    anvil = Anvil(market.state, market.timestamp)
    machine_type = type("Replay", (OrderMachine,), {"market": market, "anvil": anvil, "_initial": None})

    @settings(max_examples=1, database=None)
    @given(st.none())
    def run(_):
        machine = machine_type()
        steps(machine)
        machine.contract_equals_model_and_is_solvent()
        machine.teardown()

    try:
        run()
    finally:
        anvil.stop()


def test_a_settle_below_its_calldata_floor_is_left_out_and_changes_nothing(accounts):
    """18dec-3x: six mint orders settled in one batch with a 60,000 gas limit, below
    EIP-7623's floor for its 2.6 kB of calldata (about 77,000): the node leaves the
    transaction out of the block, and the machine took the missing receipt for a crash.
    Now it is an outcome of its own, the model untouched, every number unchanged."""
    market = deploy_market(accounts, accounts[11], 18, 3, parameter_delay=MIN_PARAMETER_DELAY)

    def steps(machine):
        machine.seed(lp_index=0, units=1000, mint_share=0)
        for _ in range(6):
            machine.request(index=0, kind="mint", per_mille=1, slip=0, to=0)
        machine.publish_round(held=1, kind="normal", move=0, wait=119)
        before = machine.outcomes["low gas settle: not included"]
        orders = machine.model.tail - machine.model.head
        machine.settle_with_little_gas(gas=60_000, settler=0)
        assert machine.outcomes["low gas settle: not included"] == before + 1
        assert machine.model.tail - machine.model.head == orders == 6

    replay(market, steps)
