"""Shared fixtures: roles, factories for feeds, collateral, oracles and pools, and
a model of the default pool that tests compare the contract with."""

import ape
import pytest
import requests
from ape_ethereum import provider as ape_provider
from ape_ethereum.ecosystem import Ethereum
from ape_foundry.provider import FoundryProvider

from inverse.constants import WAD, default_parameters
from inverse.deploy import (
    ZERO_ADDRESS,
    deploy_blueprints,
    deploy_oracle,
    deploy_pool,
    deploy_upkeep,
    lens_of,
    leverage_wad,
    order_book_of,
)
from inverse.orders import RawFeed, settlement_batch
from inverse.status import read_parameters
from tests import profiles  # noqa: F401 (registers and loads the hypothesis profiles)

_handle_execution_reverted = FoundryProvider._handle_execution_reverted


def _revert_without_trace(self, exception, revert_message=None, **kwargs):
    """Ape's Foundry provider, on every revert, traces the call again on the node,
    prints the trace and maps it to the source: half a second each, much of a unit
    test's time, and nothing a test reads when the revert has a reason (the contracts
    have no `dev:` comments; `ape.reverts` matches the reason). A revert without one
    (a compiler check: overflow, bounds) still gets ape's whole treatment."""
    from ape.exceptions import ContractLogicError, TransactionError

    if not revert_message or revert_message in ("0x", TransactionError.DEFAULT_MESSAGE):
        return _handle_execution_reverted(self, exception, revert_message, **kwargs)
    revert_message = revert_message.removeprefix("revert: ")
    kwargs |= {"trace": None, "source_traceback": None, "set_ape_traceback": False}
    error = ContractLogicError(base_err=exception, revert_message=revert_message, **kwargs)
    error._attempted_source_traceback = True  # nor from its transaction
    return error


FoundryProvider._handle_execution_reverted = _revert_without_trace
# And after every transaction to a contract it traces it again for `print` output,
# which the contracts do not have.
ape_provider._post_send_transaction = lambda txn, receipt: None
# And `requests` reads every environment variable twice per JSON-RPC call, looking for a
# proxy to a node on this machine that none is for.
requests.sessions.get_environ_proxies = lambda url, no_proxy=None: {}
# And on every transaction it builds a fresh network configuration (pydantic settings,
# 5 ms) to read the default transaction type, which a test session never changes.
_default_transaction_type = Ethereum.default_transaction_type.fget
_transaction_types: dict = {}


def _cached_transaction_type(self):
    provider = self.network_manager.active_provider
    key = (self.name, provider.network.name if provider else None)
    if key not in _transaction_types:
        _transaction_types[key] = _default_transaction_type(self)
    return _transaction_types[key]


Ethereum.default_transaction_type = property(_cached_transaction_type)

# `make test` runs the suite on worker processes (pytest-xdist, tests/run.py), each
# connected to an Anvil of its own; a module whose tests share one world (a node, the
# playground) is an `xdist_group` and runs on one worker. Work is handed out in
# collection order, so the longest tests go first and none is left running alone at
# the end: these modules, slowest first, then everything else as collected.
SLOWEST_FIRST = (
    "tests/e2e/test_sepolia_rehearsal.py",
    "tests/e2e/test_cli.py",
    "tests/e2e/test_keeper.py",
    "tests/browser/test_page.py",
    "tests/e2e/test_deploy_and_demo.py",
    "tests/unit/pool/test_lp_rescale.py",
)


def pytest_collection_modifyitems(items):
    def rank(item):
        path = item.nodeid.split("::")[0]
        return SLOWEST_FIRST.index(path) if path in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)  # stable: each module keeps its own order


FEED_DECIMALS = 8
INITIAL_PRICE = 2_000 * 10**FEED_DECIMALS  # 2,000 USD, as the feed reports it
HEARTBEAT = 3_600
MAX_AGE = HEARTBEAT + HEARTBEAT // 10


def price_wad(answer: int, decimals: int = FEED_DECIMALS) -> int:
    return answer * 10 ** (18 - decimals)


@pytest.fixture(scope="session")
def owner(accounts):
    return accounts[0]


@pytest.fixture(scope="session")
def guardian(accounts):
    return accounts[1]


@pytest.fixture(scope="session")
def keeper(accounts):
    return accounts[2]


@pytest.fixture(scope="session")
def lp(accounts):
    return accounts[3]


@pytest.fixture(scope="session")
def minter(accounts):
    return accounts[4]


@pytest.fixture(scope="session")
def redeemer(accounts):
    return accounts[5]


@pytest.fixture(scope="session")
def stranger(accounts):
    return accounts[6]


@pytest.fixture(scope="session")
def create_feed(owner, project):
    def create(answer: int = INITIAL_PRICE, decimals: int = FEED_DECIMALS, description: str = "ETH / USD"):
        return owner.deploy(project.MockAggregator, decimals, description, answer)

    return create


@pytest.fixture(scope="session")
def create_collateral(owner, project):
    def create(decimals: int = 6):
        return owner.deploy(project.MockCollateral, "Mock USD Coin", "USDC", decimals)

    return create


@pytest.fixture(scope="session")
def create_oracle(owner):
    def create(feed, max_age: int = MAX_AGE, sequencer=ZERO_ADDRESS, grace_period: int = 0):
        return deploy_oracle(owner, feed, max_age, sequencer, grace_period)

    return create


@pytest.fixture(scope="session")
def blueprints(owner):
    return deploy_blueprints(owner)[0]


@pytest.fixture(scope="session")
def create_order_pool(owner, guardian, blueprints):
    """Markets that settle every order at the next price (`InversePool`)."""

    def create(collateral, oracle, leverage=1, params=None):
        return deploy_pool(
            owner,
            collateral=collateral,
            oracle=oracle,
            leverage=leverage_wad(leverage),
            blueprints=blueprints,
            guardian=guardian.address,
            params=params,
        )

    return create


@pytest.fixture(scope="session")
def feed(create_feed):
    return create_feed()


@pytest.fixture(scope="session")
def collateral(create_collateral):
    return create_collateral(6)


@pytest.fixture(scope="session")
def oracle(create_oracle, feed):
    return create_oracle(feed)


@pytest.fixture(scope="session")
def order_pool(create_order_pool, collateral, oracle):
    """The default next-price market (-1x, 6-decimal collateral)."""
    return create_order_pool(collateral, oracle, 1)


@pytest.fixture
def lens(order_pool):
    """`order_pool`'s previews (`preview_mint`, `max_mint`, ...). Per test: a session
    fixture first asked for late in a worker's run is re-made by ape's isolation
    ("rebasing"), and this one then read a pool of another chain state."""
    return lens_of(order_pool)


@pytest.fixture(scope="session")
def book(order_pool):
    """`order_pool`'s order book: where users request and anyone settles."""
    return order_book_of(order_pool)


@pytest.fixture
def upkeep(order_pool, owner, accounts):
    """`order_pool`'s Chainlink Automation contract, paying its bounty to an account
    of its own (accounts[9]), as the deploy script does. Deployed in each test that
    uses it: one made inside a module's snapshot would vanish when it is restored."""
    return deploy_upkeep(owner, order_pool, accounts[9])


@pytest.fixture
def order_funded(collateral, book, lp, minter, redeemer):
    """`order_pool`'s users, each with 1,000,000 USDC approved to its order book."""
    for account in (lp, minter, redeemer):
        fund(collateral, account, book, 1_000_000 * 10**6)


@pytest.fixture
def order_seeded(order_pool, book, order_funded, lp, minter, deadline, settle):
    """`order_pool` with 100,000 USDC of LP liquidity and a 10,000 USDC mint, settled."""
    book.request_lp_deposit(100_000 * 10**6, 0, lp, deadline, sender=lp)
    book.request_mint(10_000 * 10**6, 0, minter, deadline, sender=minter)
    settle()
    return order_pool


def publish_round(feed, owner, chain, answer=None, after: int | None = None):
    """Moves the clock past `after` (default: the pool's min delay from now) and
    publishes a new round with `answer` (default: the latest answer)."""
    if answer is None:
        answer = feed.latestRoundData()[1]
    target = chain.pending_timestamp + 120 if after is None else max(after, chain.pending_timestamp)
    chain.mine(timestamp=target)
    return feed.set_answer(answer, sender=owner)


def settle_orders(book, feed, settler, chain):
    """Settles every due order at the head of `book`, as the keeper would; returns
    the receipt, or None if nothing was due."""
    batch, round_ids = settlement_batch(book, RawFeed(feed.address), chain.pending_timestamp)
    if not batch:
        return None
    return book.settle(batch, round_ids, sender=settler)


@pytest.fixture
def settle(book, feed, owner, keeper, chain):
    """`settle(answer=None)`: publish the next round (after every pending order's
    T) at `answer`, then settle everything due, by the keeper."""

    def run(answer=None, settler=None):
        pending = book.pending_orders()
        after = None
        if pending:
            after = book.order(book.next_order() + pending - 1).not_before
        publish_round(feed, owner, chain, answer, after)
        return settle_orders(book, feed, settler or keeper, chain)

    return run


@pytest.fixture
def frozen_clock(chain):
    """Every block gets the timestamp of the one before (until a test mines at another
    time): a test about seconds does not depend on how fast the machine is."""
    chain.provider.make_request("anvil_setBlockTimestampInterval", [0])
    yield
    chain.provider.make_request("anvil_removeBlockTimestampInterval", [])


@pytest.fixture
def deadline(chain):
    return chain.pending_timestamp + 3_600


def fund(token, account, spender, amount):
    """Mint mock collateral to `account` and approve `spender` for all of it."""
    token.mint(account, amount, sender=account)
    token.approve(spender, amount, sender=account)


def snapshot_state(pool, collateral, accounts) -> dict:
    """Every number a user could check, to show a failed call changed nothing."""
    lp_token = ape.project.LpToken.at(pool.lp_token())
    state = {
        "total_assets": pool.total_assets(),
        "supply": pool.totalSupply(),
        "lp_supply": lp_token.totalSupply(),
        "reference_price": pool.reference_price(),
        "reference_nav": pool.reference_nav(),
        "last_rebalance": pool.last_rebalance(),
        "paused": pool.paused(),
        "is_shutdown": pool.is_shutdown(),
        "params": read_parameters(pool),
        "queued": (pool.parameters_ready_at(), pool.queued_parameters()),
        "pool_collateral": collateral.balanceOf(pool),
    }
    for account in accounts:
        state[account.address] = (
            pool.balanceOf(account),
            lp_token.balanceOf(account),
            collateral.balanceOf(account),
        )
    return state


@pytest.fixture
def unchanged(order_pool, collateral, accounts):
    """`with unchanged("pool: reason"):` asserts the call reverts with that reason
    and that no balance, supply, reference or parameter moved."""
    from contextlib import contextmanager

    @contextmanager
    def check(reason, target=None, token=None):
        target = target or order_pool
        token = token or collateral
        before = snapshot_state(target, token, list(accounts)[:8])
        with ape.reverts(reason):
            yield
        assert snapshot_state(target, token, list(accounts)[:8]) == before

    return check


DEFAULTS_1X_6DEC = default_parameters(WAD, 6)
