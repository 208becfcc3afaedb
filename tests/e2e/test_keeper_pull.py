"""The real keeper bot on a pull market (SPEC 3b): a real Anvil mining a block a
second, the local price service publishing a Pyth price every second of its clock,
and the mock Pyth checking the updates. Orders settle seconds after their T, at the
first price at or after it; a move past the threshold is proven and rebalanced."""

import time
from contextlib import contextmanager

import requests
from ape import chain, networks

from inverse.constants import OUTCOME_FILLED, REASON_THRESHOLD, WAD
from inverse.deploy import deploy_mock_system, order_book_of
from inverse.orders import order_from_log
from inverse.processes import AnvilNode, KeeperBot, PriceServiceProcess

USDC = 10**6
DAY = 86_400


@contextmanager
def pull_world(tmp_path, accounts):
    node = AnvilNode(tmp_path, block_time=1)
    node.start()
    service = bot = None
    try:
        service = PriceServiceProcess(tmp_path, node, price="2000")
        service.start()
        with networks.parse_network_choice(node.network_choice):
            owner, lp, minter = accounts[0], accounts[3], accounts[4]
            start_block = chain.blocks.head.number
            system = deploy_mock_system(owner, leverages=(1,), pull=True)
            pool = next(iter(system.pools.values()))
            book = order_book_of(pool)
            for account in (lp, minter):
                system.collateral.mint(account, 10**12, sender=account)
                system.collateral.approve(book, 10**12, sender=account)
            env = {
                "INVERSE_FROM_BLOCK": str(start_block),
                "INVERSE_KEEPER_ALWAYS": "1",
                "INVERSE_HERMES_URL": service.url,
                "INVERSE_PULL_REBALANCER": system.rebalancer.address,
            }
            bot = KeeperBot(tmp_path, node, [pool.address], env=env)
            bot.start()
            yield {"pool": pool, "book": book, "lp": lp, "minter": minter, "bot": bot, "service": service}
    finally:
        if bot:
            bot.stop()
            bot.forget()
        if service:
            service.stop()
        node.stop()


def wait_for(condition, what: str, bot, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}:\n{bot.output()[-4000:]}")
        time.sleep(0.3)


def test_keeper__pull_market__settles_within_seconds_at_the_first_price_after_t_then_rebalances(tmp_path, accounts):
    with pull_world(tmp_path, accounts) as world:
        book, pool, lp, minter, bot = (world[k] for k in ("book", "pool", "lp", "minter", "bot"))
        far = chain.blocks.head.timestamp + DAY
        receipt = book.request_lp_deposit(100_000 * USDC, 0, lp, far, sender=lp)
        deposit = order_from_log(receipt.events.filter(book.OrderRequested)[0])
        receipt = book.request_mint(1_000 * USDC, 0, minter, far, sender=minter)
        mint = order_from_log(receipt.events.filter(book.OrderRequested)[0])
        assert mint.not_before - mint.requested_at <= 10  # 5 s, rounded up to the slot

        wait_for(lambda: book.pending_orders() == 0, "the keeper to settle both orders", bot)
        logs = list(pool.OrderSettled.range(receipt.block_number, chain.blocks.head.number + 1))
        assert [log.order_id for log in logs] == [deposit.id, mint.id]
        assert all(log.outcome == OUTCOME_FILLED and log.price == 2_000 * WAD for log in logs)
        assert logs[-1].round_id == mint.not_before  # the price published at T: the first at or after it
        settled_at = chain.blocks[logs[-1].block_number].timestamp
        assert settled_at - mint.requested_at <= 20, "settled within seconds of the request"

        # ETH +16%: past -1x's 14.2% threshold on the price service; the keeper proves
        # the latest slot's price and rebalances.
        requests.post(f"{world['service'].url}/price", json={"price": 2_320}, timeout=10)
        wait_for(lambda: pool.reference_price() == 2_320 * WAD, "the keeper to rebalance at the new price", bot)
        [event] = list(pool.Rebalance.range(receipt.block_number, chain.blocks.head.number + 1))
        assert event.reason & REASON_THRESHOLD and event.price == 2_320 * WAD
        bot.wait_for_log("keeper: rebalanced", timeout=30)
