"""The real keeper bot (a silverback process) against a real Anvil node (a process
these tests kill and restart) and the deployed contracts: it settles every due
order at its round, then rebalances."""

import json
import time
from contextlib import contextmanager

from ape import chain, networks, project

from inverse.constants import OUTCOME_FILLED, OUTCOME_VOID
from inverse.deploy import deploy_mock_system, lens_of, order_book_of
from inverse.orders import settlement_batch
from inverse.processes import AnvilNode, KeeperBot

DAY = 86_400
PRICE = 2_000 * 10**8
USDC = 10**6
SETTLE_FEE = USDC // 10
BOUNTY = USDC


@contextmanager
def keeper_world(tmp_path, accounts, env=None, always=True, native_feed_price=None):
    """A node, a market on it with LPs and a holder (their orders settled), and
    the bot watching it. `always`: the bot sends even when gas costs more than it
    earns (a young Anvil's 1 gwei is more than one order's 0.1 USDC fee pays).
    `native_feed_price`: a second ETH / USD feed at this answer (8 decimals), the
    bot's INVERSE_KEEPER_NATIVE_FEED."""
    node = AnvilNode(tmp_path)
    node.start()
    bot = None
    try:
        with networks.parse_network_choice(node.network_choice):
            owner, keeper, lp, minter = accounts[0], accounts[2], accounts[3], accounts[4]
            start_block = chain.blocks.head.number
            system = deploy_mock_system(owner, leverages=(1,))
            pool = next(iter(system.pools.values()))
            book = order_book_of(pool)
            for account in (lp, minter, accounts[5], accounts[6]):
                system.collateral.mint(account, 10**12, sender=account)
                system.collateral.approve(book, 10**12, sender=account)
            far = chain.blocks.head.timestamp + 365 * DAY
            book.request_lp_deposit(100_000 * USDC, 0, lp, far, sender=lp)
            book.request_mint(10_000 * USDC, 0, minter, far, sender=minter)
            publish(system.feed, owner, PRICE, after=120)
            settle_as(book, system.feed, owner)
            assert book.pending_orders() == 0 and pool.totalSupply() > 0
            env = {"INVERSE_FROM_BLOCK": str(start_block), "INVERSE_KEEPER_ALWAYS": "1" if always else ""} | (env or {})
            native_feed = None
            if native_feed_price:
                native_feed = owner.deploy(project.MockAggregator, 8, "ETH / USD", native_feed_price)
                env["INVERSE_KEEPER_NATIVE_FEED"] = native_feed.address
            bot = KeeperBot(tmp_path, node, [pool.address], env=env)
            bot.start()
            yield {
                "node": node,
                "bot": bot,
                "system": system,
                "pool": pool,
                "book": book,
                "feed": system.feed,
                "owner": owner,
                "keeper": keeper,
                "lp": lp,
                "minter": minter,
                "far": far,
                "native_feed": native_feed,
            }
    finally:
        if bot:
            bot.stop()
            bot.forget()
        node.stop()


def warp(seconds: int):
    chain.provider.make_request("evm_increaseTime", [seconds])
    chain.provider.make_request("evm_mine", [])


def publish(feed, owner, answer, after: int = 0):
    """A new round, `after` seconds from now; returns the block it is in."""
    if after:
        chain.provider.make_request("evm_increaseTime", [after])
    return feed.set_answer(answer, sender=owner, gas=200_000).block_number


def settle_as(book, feed, settler):
    batch, round_ids = settlement_batch(book, feed, chain.pending_timestamp)
    return book.settle(batch, round_ids, sender=settler)


def send_unmined(call, *args, sender, **kwargs):
    """Sign and send without waiting for a block (automine off)."""
    txn = call.as_transaction(*args, sender=sender, gas_limit=1_000_000, **kwargs)
    signed = sender.sign_transaction(txn)
    chain.provider.web3.eth.send_raw_transaction(signed.serialize_transaction())


def wait_for(condition, what: str, timeout: float = 60, mine: bool = False):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.3)
        if mine:
            chain.provider.make_request("evm_mine", [])


def request_every_kind(world, accounts):
    """A mint, a redeem, an LP deposit and an LP withdrawal, from four accounts."""
    book, far = world["book"], world["far"]
    lp, minter, depositor, newcomer = world["lp"], world["minter"], accounts[5], accounts[6]
    lp_token = world["pool"].lp_token()
    ids = [
        book.request_mint(5_000 * USDC, 0, newcomer, far, sender=newcomer).return_value,
        book.request_redeem(world["pool"].balanceOf(minter) // 2, 0, minter, far, sender=minter).return_value,
        book.request_lp_deposit(20_000 * USDC, 0, depositor, far, sender=depositor).return_value,
    ]
    shares = project.LpToken.at(lp_token).balanceOf(lp) // 10
    ids.append(book.request_lp_withdraw(shares, 0, lp, far, sender=lp).return_value)
    return ids


def settled(world, since_block: int) -> list:
    return list(world["pool"].OrderSettled.range(since_block, chain.blocks.head.number + 1))


def test_keeper__settles_every_kind_in_one_batch_in_the_first_due_block_then_rebalances(tmp_path, accounts):
    with keeper_world(tmp_path, accounts, always=False) as world:  # fees and bounty pay for the gas
        pool, book, feed, owner, keeper = world["pool"], world["book"], world["feed"], world["owner"], world["keeper"]
        earned_before = world["system"].collateral.balanceOf(keeper)
        warp(DAY - 600)  # the feed quiet meanwhile: nothing to do
        ids = request_every_kind(world, accounts)
        assert book.pending_orders() == 4

        # Then the feed answers: the four orders are due and so is the daily rebalance.
        due_block = publish(feed, owner, PRICE * 95 // 100, after=600)
        wait_for(lambda: book.pending_orders() == 0 and not pool.rebalance_due(), "settlement and rebalance")

        events = settled(world, due_block)
        mint, redeem, deposit, withdrawal = ids
        assert [e.order_id for e in events] == [mint, redeem, withdrawal, deposit]  # LP deposits last in a round
        assert {e.outcome for e in events} == {OUTCOME_FILLED}
        assert {e.settler for e in events} == {keeper.address}
        assert {e.block_number for e in events} == {due_block + 1}  # one batch, the first block after
        rebalances = list(pool.Rebalance.range(due_block, chain.blocks.head.number + 1))
        assert [(r.keeper, r.block_number) for r in rebalances] == [(keeper.address, due_block + 2)]
        assert pool.reference_price() == PRICE * 95 // 100 * 10**10

        earned = world["system"].collateral.balanceOf(keeper) - earned_before
        assert earned == 4 * SETTLE_FEE + BOUNTY
        log = world["bot"].output()
        assert "settled 4 order(s)" in log and "4 filled" in log and "settle fees 0.400000" in log
        assert "(time)" in log and "bounty 1.000000" in log
        assert "fees 0.40 + bounties 1.00" in log and "gas spent" in log  # what it earned and spent


def test_keeper__threshold_move_intraday__settles_then_rebalances(tmp_path, accounts):
    with keeper_world(tmp_path, accounts, always=False) as world:  # the bounty it unblocks pays
        pool, book, feed, owner = world["pool"], world["book"], world["feed"], world["owner"]
        newcomer = accounts[6]
        warp(DAY // 2)  # half a day since the last rebalance: half a day's bounty has accrued
        book.request_mint(1_000 * USDC, 0, newcomer, world["far"], sender=newcomer)
        due_block = publish(feed, owner, PRICE * 80 // 100, after=600)  # a 20% fall
        wait_for(lambda: pool.reference_price() == PRICE * 80 // 100 * 10**10, "the threshold rebalance")
        assert [e.block_number for e in settled(world, due_block)] == [due_block + 1]
        # The bot logs after it has seen the receipt: the chain can be ahead of its log.
        wait_for(lambda: "(threshold)" in world["bot"].output(), "the keeper's report of the threshold rebalance")


def test_keeper__200_orders_queued_ahead_of_a_threshold_move__all_settled_and_rebalanced_in_the_next_block(
    tmp_path, accounts
):
    """Spam ahead of a threshold rebalance: 200 minimum-size mints queued just before
    a 20% fall (past the -1x threshold). The keeper sends its ten batches and the
    rebalance together (consecutive nonces), so all of it lands in the first block
    after the move, not one batch a block (11 blocks)."""
    with keeper_world(tmp_path, accounts) as world:
        pool, book, feed, owner, keeper = world["pool"], world["book"], world["feed"], world["owner"], world["keeper"]
        spammer, web3 = accounts[7], chain.provider.web3
        world["system"].collateral.mint(spammer, 10**12, sender=spammer)
        world["system"].collateral.approve(book, 10**12, sender=spammer)
        chain.provider.make_request("evm_setAutomine", [False])
        try:
            nonce = spammer.nonce
            for k in range(200):  # one block of requests, 10 USDC each (the minimum order)
                txn = book.request_mint.as_transaction(
                    10 * USDC, 0, spammer, world["far"], sender=spammer, gas_limit=120_000, nonce=nonce + k
                )
                web3.eth.send_raw_transaction(spammer.sign_transaction(txn).serialize_transaction())
            chain.provider.make_request("evm_mine", [])
            assert book.pending_orders() == 200
            chain.provider.make_request("evm_increaseTime", [600])
            send_unmined(feed.set_answer, PRICE * 80 // 100, sender=owner)
            chain.provider.make_request("evm_mine", [])
            due_block = chain.blocks.head.number

            def sent() -> int:
                return web3.eth.get_transaction_count(keeper.address, "pending") - keeper.nonce

            wait_for(lambda: sent() >= 11, "the keeper's ten batches and its rebalance, before the next block")
            assert sent() == 11
            chain.provider.make_request("evm_mine", [])
        finally:
            chain.provider.make_request("evm_setAutomine", [True])
        wait_for(lambda: "rebalanced" in world["bot"].output(), "the keeper to see its transactions mined")
        events = settled(world, due_block)
        assert len(events) == 200 and {e.settler for e in events} == {keeper.address}
        assert {e.block_number for e in events} == {due_block + 1}
        rebalances = list(pool.Rebalance.range(due_block, chain.blocks.head.number + 1))
        assert [(r.keeper, r.block_number) for r in rebalances] == [(keeper.address, due_block + 1)]
        assert book.pending_orders() == 0 and pool.reference_price() == PRICE * 80 // 100 * 10**10


def test_keeper__void_order__refunded_through_settle(tmp_path, accounts):
    with keeper_world(tmp_path, accounts) as world:
        book, feed, owner, keeper = world["book"], world["feed"], world["owner"], world["keeper"]
        newcomer = accounts[6]
        book.request_mint(1_000 * USDC, 0, newcomer, world["far"], sender=newcomer)
        warp(2 * 3_960)  # no round came by T + max_wait
        wait_for(lambda: book.pending_orders() == 0, "the void order's refund", mine=True)
        (event,) = settled(world, 0)[-1:]
        assert event.outcome == OUTCOME_VOID and event.settler == keeper.address
        wait_for(lambda: "1 void (refunded)" in world["bot"].output(), "the keeper's report of the void order")
        publish(feed, owner, PRICE)  # the oracle back: the rebalance that was waiting
        wait_for(lambda: not world["pool"].rebalance_due(), "the rebalance", mine=True)


def test_keeper__competitor_settles_first__skipped_no_revert_no_resend(tmp_path, accounts):
    with keeper_world(tmp_path, accounts) as world:
        pool, book, feed, owner, keeper, bot = (
            world["pool"],
            world["book"],
            world["feed"],
            world["owner"],
            world["keeper"],
            world["bot"],
        )
        rival = accounts[7]
        newcomer = accounts[6]
        book.request_mint(1_000 * USDC, 0, newcomer, world["far"], sender=newcomer)
        book.request_mint(2_000 * USDC, 0, newcomer, world["far"], sender=newcomer)
        chain.provider.make_request("evm_setAutomine", [False])
        try:
            chain.provider.make_request("evm_increaseTime", [600])
            send_unmined(feed.set_answer, PRICE, sender=owner)
            chain.provider.make_request("evm_mine", [])  # the bot sees due orders in this block...
            batch, round_ids = settlement_batch(book, feed, chain.pending_timestamp)
            # ...and so does a rival, who pays a higher tip to go first
            send_unmined(book.settle, batch, round_ids, sender=rival, max_priority_fee=10**11, max_fee=10**12)
            time.sleep(3)  # the bot decides against the same block, and may send too
            chain.provider.make_request("evm_mine", [])
        finally:
            chain.provider.make_request("evm_setAutomine", [True])
        time.sleep(2)
        events = settled(world, 0)[-2:]
        assert {e.settler for e in events} == {rival.address}
        assert book.pending_orders() == 0
        keeper_nonce = keeper.nonce
        for _ in range(4):  # later blocks: nothing is due, nothing is (re)sent
            chain.provider.make_request("evm_mine", [])
            time.sleep(0.5)
        assert keeper.nonce == keeper_nonce
        assert bot.alive()
        web3 = chain.provider.web3
        race = web3.eth.get_block(events[0].block_number, full_transactions=True)
        for txn in race["transactions"]:
            if txn["from"] == keeper.address:  # if the bot sent too, its batch skipped them: no revert
                assert web3.eth.get_transaction_receipt(txn["hash"])["status"] == 1
        # And it keeps working: the next due order is the bot's.
        book.request_mint(1_000 * USDC, 0, newcomer, world["far"], sender=newcomer)
        due_block = publish(feed, owner, PRICE, after=600)
        wait_for(lambda: book.pending_orders() == 0, "the bot's settlement")
        assert [e.settler for e in settled(world, due_block)] == [keeper.address]
        assert pool.totalSupply() > 0


def test_keeper__stale_oracle__waits_then_settles_and_rebalances_on_recovery(tmp_path, accounts):
    with keeper_world(tmp_path, accounts) as world:
        pool, book, feed, owner, keeper, bot = (
            world["pool"],
            world["book"],
            world["feed"],
            world["owner"],
            world["keeper"],
            world["bot"],
        )
        nonce = keeper.nonce
        warp(DAY)  # due by time, but the feed has not answered for a day: stale
        for _ in range(4):
            chain.provider.make_request("evm_mine", [])
            time.sleep(0.5)
        bot.wait_for_log("stale price")
        assert keeper.nonce == nonce  # nothing sent while the price is bad
        assert bot.alive()

        book.request_mint(1_000 * USDC, 0, accounts[6], world["far"], sender=accounts[6])
        due_block = publish(feed, owner, PRICE, after=600)
        wait_for(lambda: book.pending_orders() == 0 and not pool.rebalance_due(), "settlement and rebalance")
        assert [e.block_number for e in settled(world, due_block)] == [due_block + 1]
        bot.wait_for_log("oracle back")


def test_keeper__survives_node_restart_and_its_own_restart(tmp_path, accounts):
    with keeper_world(tmp_path, accounts) as world:
        pool, book, feed, owner, keeper = world["pool"], world["book"], world["feed"], world["owner"], world["keeper"]
        node, bot, newcomer = world["node"], world["bot"], accounts[6]

        node.stop()
        time.sleep(3)  # the bot's polling fails meanwhile
        node.start()
        assert chain.provider.make_request("eth_blockNumber", [])
        warp(DAY - 600)
        book.request_mint(1_000 * USDC, 0, newcomer, world["far"], sender=newcomer)
        publish(feed, owner, PRICE, after=600)
        wait_for(lambda: book.pending_orders() == 0 and not pool.rebalance_due(), "settlement", 60, mine=True)
        assert bot.alive()
        assert "block polling stopped" in bot.output()

        # The bot is down while orders are requested and come due; restarted, it
        # reads the book from its start and settles them, once.
        bot.stop()
        nonce = keeper.nonce
        warp(DAY - 600)
        book.request_mint(1_000 * USDC, 0, newcomer, world["far"], sender=newcomer)
        book.request_redeem(pool.balanceOf(newcomer) // 2, 0, newcomer, world["far"], sender=newcomer)
        publish(feed, owner, PRICE, after=600)
        bot.start()
        wait_for(lambda: book.pending_orders() == 0 and not pool.rebalance_due(), "settlement after restart", mine=True)
        for _ in range(3):  # then nothing is due: it must not send anything more
            chain.provider.make_request("evm_mine", [])
            time.sleep(0.5)
        assert keeper.nonce == nonce + 2  # one settle (both orders), one rebalance


def test_keeper__stuck_transaction__replaced_with_a_higher_fee(tmp_path, accounts):
    """Mining paused while the bot's settle waits in the pool; then the base fee
    rises above what it offered, so only the replacement (same nonce, fees +25%) fits."""
    with keeper_world(tmp_path, accounts, env={"INVERSE_KEEPER_STUCK_AFTER": "3"}) as world:
        book, feed, owner, keeper, bot = world["book"], world["feed"], world["owner"], world["keeper"], world["bot"]
        book.request_mint(1_000 * USDC, 0, accounts[6], world["far"], sender=accounts[6])
        nonce = keeper.nonce
        chain.provider.make_request("evm_setAutomine", [False])
        try:
            chain.provider.make_request("evm_increaseTime", [600])
            send_unmined(feed.set_answer, PRICE, sender=owner)
            chain.provider.make_request("evm_mine", [])  # due: the bot sends, nothing mines it
            wait_for(lambda: nonce in pooled(keeper), "the bot's settlement in the pool")
            first = pooled(keeper)[nonce]
            bot.wait_for_log("replacing it with a 25% higher fee", timeout=30)
            wait_for(lambda: pooled(keeper)[nonce]["hash"] != first["hash"], "the replacement in the pool")
            second = pooled(keeper)[nonce]
            assert second["maxFeePerGas"] >= first["maxFeePerGas"] * 5 // 4 + 1
            assert second["maxPriorityFeePerGas"] >= first["maxPriorityFeePerGas"] * 5 // 4 + 1
            # The base fee rises past the first one's max fee: only a replacement can be mined.
            set_base_fee(first["maxFeePerGas"] + 1)
            chain.provider.make_request("evm_mine", [])
        finally:
            chain.provider.make_request("evm_setAutomine", [True])
        wait_for(lambda: book.pending_orders() == 0, "the replacement mined")
        (event,) = settled(world, 0)[-1:]
        assert event.settler == keeper.address
        web3 = chain.provider.web3
        txn = web3.eth.get_transaction(event.transaction_hash)
        assert txn["nonce"] == nonce and txn["maxFeePerGas"] >= second["maxFeePerGas"]
        assert txn["hash"] != first["hash"]
        assert keeper.nonce == nonce + 1  # one of them mined, never both
        assert bot.alive()


def test_keeper__unprofitable_gas__refuses_unless_told(tmp_path, accounts):
    """Gas valued against fees and bounty: with the gas token worth a million
    dollars (INVERSE_KEEPER_NATIVE_PRICE), neither a settlement nor a rebalance
    pays, and the bot sends nothing."""
    with keeper_world(tmp_path, accounts, env={"INVERSE_KEEPER_NATIVE_PRICE": str(10**24)}, always=False) as world:
        book, feed, owner, keeper, bot = world["book"], world["feed"], world["owner"], world["keeper"], world["bot"]
        assert "valued in ETH at 1,000,000.00 per ETH (INVERSE_KEEPER_NATIVE_PRICE)" in bot.output()
        warp(DAY - 600)
        book.request_mint(1_000 * USDC, 0, accounts[6], world["far"], sender=accounts[6])
        nonce = keeper.nonce
        publish(feed, owner, PRICE, after=600)
        for _ in range(6):
            chain.provider.make_request("evm_mine", [])
            time.sleep(0.5)
        bot.wait_for_log("costs more than it pays", timeout=30)
        assert keeper.nonce == nonce
        assert book.pending_orders() == 1


def test_keeper__exit_worth_less_than_its_fee__counted_as_earning_nothing(tmp_path, accounts):
    """An exit pays its settle fee out of what it gets: one requested worth just over
    the fee that a price move leaves worth less pays its settler less than the 0.1
    USDC it records. The bot counts it as earning nothing and does not send it
    alone; a real order behind it pays for both."""
    cheap_gas = {"INVERSE_KEEPER_NATIVE_PRICE": str(10**18)}  # 1 USDC an ETH: 0.1 USDC pays a settlement
    with keeper_world(tmp_path, accounts, env=cheap_gas, always=False) as world:
        pool, book, feed, owner, keeper, bot = (world[k] for k in ("pool", "book", "feed", "owner", "keeper", "bot"))
        minter, holder = world["minter"], accounts[7]
        small = -(-(SETTLE_FEE * 101 // 100) * 10**30 // pool.reference_nav())  # 0.101 USDC at the reference
        pool.transfer(holder, small, sender=minter)
        book.request_redeem(small, 0, holder, world["far"], sender=holder)  # a whole balance
        nonce = keeper.nonce
        publish(feed, owner, PRICE * 105 // 100, after=600)  # -1x: the NAV falls 5%, under the fee
        assert lens_of(pool).preview_redeem(small) == 0
        bot.wait_for_log("costs more than it pays", timeout=60)
        assert keeper.nonce == nonce and book.pending_orders() == 1

        book.request_redeem(pool.balanceOf(minter) // 2, 0, minter, world["far"], sender=minter)
        publish(feed, owner, PRICE * 105 // 100, after=600)
        wait_for(lambda: book.pending_orders() == 0, "the bot to settle both", timeout=60, mine=True)
        assert keeper.nonce == nonce + 1


def test_keeper__native_feed__earnings_valued_at_its_live_price(tmp_path, accounts):
    """INVERSE_KEEPER_NATIVE_FEED: a second feed prices the gas token. At a million
    dollars an ETH the due batch and rebalance do not pay (the pool's own price,
    2,000, would say they do); once that feed answers 2,000 the bot sends both."""
    with keeper_world(tmp_path, accounts, always=False, native_feed_price=10**6 * 10**8) as world:
        pool, book, feed, owner, keeper, bot = (world[k] for k in ("pool", "book", "feed", "owner", "keeper", "bot"))
        assert f"at the price of the feed {world['native_feed'].address}" in bot.output()
        warp(DAY - 600)
        book.request_mint(1_000 * USDC, 0, accounts[6], world["far"], sender=accounts[6])
        nonce = keeper.nonce
        publish(feed, owner, PRICE, after=600)
        bot.wait_for_log("costs more than it pays", timeout=30)
        assert keeper.nonce == nonce and book.pending_orders() == 1

        world["native_feed"].set_answer(PRICE, sender=owner)
        wait_for(lambda: book.pending_orders() == 0 and not pool.rebalance_due(), "settlement and rebalance")
        assert keeper.nonce == nonce + 2


def test_keeper__gas_spike__refuses_at_a_loss_without_a_budget(tmp_path, accounts):
    """The base fee jumps to 100 gwei: the daily rebalance and the order it waits
    for would cost about 30 times what they pay. With no loss budget the bot waits,
    says why, and sends both once the spike is over."""
    with keeper_world(tmp_path, accounts, always=False) as world:
        pool, book, feed, owner, keeper, bot = (world[k] for k in ("pool", "book", "feed", "owner", "keeper", "bot"))
        assert "no daily loss budget" in bot.output()
        warp(DAY - 600)
        book.request_mint(1_000 * USDC, 0, accounts[6], world["far"], sender=accounts[6])
        nonce = keeper.nonce
        set_base_fee(100 * GWEI)
        publish(feed, owner, PRICE, after=600)
        mine_at(100 * GWEI, blocks=3)
        bot.wait_for_log("costs more than it pays", timeout=30)
        assert "INVERSE_KEEPER_MAX_DAILY_LOSS sets a daily budget" in bot.output()
        assert keeper.nonce == nonce and book.pending_orders() == 1

        mine_at(GWEI)  # the spike is over: the batch with the bounty it unblocks pays again
        wait_for(lambda: book.pending_orders() == 0 and not pool.rebalance_due(), "settlement and rebalance")
        assert keeper.nonce == nonce + 2
        assert "sending at a loss" not in bot.output()


def test_keeper__gas_spike__daily_loss_budget_keeps_schedule_until_spent(tmp_path, accounts):
    """A budget of 0.006 ETH a day, the base fee at 50 gwei: a rebalance then loses
    about 0.004 ETH. The daily one is sent at a loss; a threshold one the same day
    would go over the budget, so the bot stops and says what it lost (also after a
    restart, from INVERSE_KEEPER_LOSS_FILE); a day later the budget is free again."""
    env = {"INVERSE_KEEPER_MAX_DAILY_LOSS": "0.006", "INVERSE_KEEPER_LOSS_FILE": str(tmp_path / "losses.json")}
    with keeper_world(tmp_path, accounts, env=env, always=False) as world:
        pool, feed, owner, keeper, bot = (world[k] for k in ("pool", "feed", "owner", "keeper", "bot"))
        assert "daily loss budget 0.006000 ETH" in bot.output()
        eth_before = keeper.balance

        # The daily rebalance, in a spike: sent at a loss, within the budget.
        warp(DAY - 600)
        set_base_fee(50 * GWEI)
        due_block = publish(feed, owner, PRICE, after=600)
        wait_for(lambda: not pool.rebalance_due(), "the daily rebalance")
        (first,) = pool.Rebalance.range(due_block, chain.blocks.head.number + 1)
        assert first.keeper == keeper.address
        bot.wait_for_log("(time)")
        log = bot.output()
        assert "due: sending at a loss of 0.00" in log and "within the daily loss budget" in log
        assert "lost 0.00" in log.split("(time)")[1]  # the success line tells what it lost today
        # The record: the gas it paid, less the bounty at 2,000 USDC an ETH.
        record = json.loads((tmp_path / "losses.json").read_text())
        assert record["keeper"] == keeper.address
        lost = sum(wei for _, wei in record["losses"])
        assert lost == eth_before - keeper.balance - BOUNTY * 10**12 // 2_000
        assert 0.002 * 10**18 < lost < 0.006 * 10**18

        # A 20% fall the same day: due again, but its loss would overrun the budget.
        nonce = keeper.nonce
        set_base_fee(50 * GWEI)
        publish(feed, owner, PRICE * 80 // 100, after=60)
        mine_at(50 * GWEI, blocks=3)
        bot.wait_for_log("daily loss budget spent", timeout=30)
        assert keeper.nonce == nonce and pool.rebalance_due()

        # Restarted, it remembers what it lost today.
        bot.stop()
        bot.start()
        assert "lost in the last 24 h: 0.00" in bot.output() and "lost in the last 24 h: 0.000000" not in bot.output()
        mine_at(50 * GWEI, blocks=2)
        bot.wait_for_log("daily loss budget spent", timeout=30)
        assert keeper.nonce == nonce

        # A day later the morning's loss has aged out: the market is rebalanced again.
        warp(DAY)
        set_base_fee(50 * GWEI)
        publish(feed, owner, PRICE * 80 // 100)
        wait_for(lambda: not pool.rebalance_due(), "the next rebalance")
        bot.wait_for_log("due: sending at a loss")  # still in the spike
        assert keeper.nonce == nonce + 1
        assert pool.reference_price() == PRICE * 80 // 100 * 10**10


GWEI = 10**9


def set_base_fee(wei: int):
    """The next block's base fee (Anvil)."""
    chain.provider.make_request("anvil_setNextBlockBaseFeePerGas", [hex(wei)])


def mine_at(base_fee: int, blocks: int = 1):
    """Mine `blocks` empty blocks at `base_fee`, giving the bot time to look at each."""
    for _ in range(blocks):
        set_base_fee(base_fee)
        chain.provider.make_request("evm_mine", [])
        time.sleep(0.5)


def pooled(account) -> dict:
    """The account's transactions waiting in the node's pool, by nonce (fees as ints)."""
    pending = chain.provider.make_request("txpool_content", [])["pending"]
    mine = next((txs for sender, txs in pending.items() if sender.lower() == account.address.lower()), {})
    return {
        int(nonce): {
            "hash": txn["hash"],
            "maxFeePerGas": int(txn["maxFeePerGas"], 16),
            "maxPriorityFeePerGas": int(txn["maxPriorityFeePerGas"], 16),
        }
        for nonce, txn in mine.items()
    }
