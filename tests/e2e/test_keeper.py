"""The real keeper bot (a silverback process) against a real Anvil node (a process
these tests kill and restart) and the deployed contracts."""

import time
from contextlib import contextmanager

from ape import chain, networks

from inverse.deploy import deploy_mock_system
from inverse.processes import AnvilNode, KeeperBot
from inverse.status import read_parameters

DAY = 86_400
PRICE = 2_000 * 10**8
USDC = 10**6


@contextmanager
def keeper_world(tmp_path, accounts, env=None):
    """A node, a market on it with LPs and a holder, and the bot watching it."""
    node = AnvilNode(tmp_path)
    node.start()
    bot = None
    try:
        with networks.parse_network_choice(node.network_choice):
            owner, keeper, lp, minter = accounts[0], accounts[2], accounts[3], accounts[4]
            system = deploy_mock_system(owner, leverages=(1,))
            pool = next(iter(system.pools.values()))
            for account in (lp, minter):
                system.collateral.mint(account, 10**12, sender=account)
                system.collateral.approve(pool, 10**12, sender=account)
            far = chain.blocks.head.timestamp + 365 * DAY
            pool.lp_deposit(100_000 * USDC, 0, lp, far, sender=lp)
            pool.mint(10_000 * USDC, 0, minter, far, sender=minter)
            bot = KeeperBot(tmp_path, node, [pool.address], env=env)
            bot.start()
            yield {"node": node, "bot": bot, "system": system, "pool": pool, "owner": owner, "keeper": keeper}
    finally:
        if bot:
            bot.stop()
            bot.forget()
        node.stop()


def warp(seconds: int):
    chain.provider.make_request("evm_increaseTime", [seconds])
    chain.provider.make_request("evm_mine", [])


def send_unmined(call, *args, sender):
    """Sign and send without waiting for a block (automine off)."""
    txn = call.as_transaction(*args, sender=sender, gas_limit=500_000)
    signed = sender.sign_transaction(txn)
    chain.provider.web3.eth.send_raw_transaction(signed.serialize_transaction())


def mine_until_rebalanced(pool, since_block: int, by: str, max_blocks: int = 20) -> int:
    """Mine a block every half second until `by` rebalances; return the blocks it took."""
    for _ in range(max_blocks):
        events = [e for e in pool.Rebalance.range(since_block, chain.blocks.head.number + 1) if e.keeper == by]
        if events:
            return events[0].block_number - since_block
        time.sleep(0.5)
        chain.provider.make_request("evm_mine", [])
    raise AssertionError(f"no rebalance by the keeper within {max_blocks} blocks")


def test_keeper__rebalances_within_blocks_for_time_and_threshold(tmp_path, accounts):
    with keeper_world(tmp_path, accounts) as world:
        pool, feed, owner, keeper = world["pool"], world["system"].feed, world["owner"], world["keeper"]

        # Time: a day passes, the feed gives its heartbeat answer.
        warp(DAY)
        due_block = feed.set_answer(PRICE, sender=owner).block_number
        time_blocks = mine_until_rebalanced(pool, due_block, keeper.address)
        assert not pool.rebalance_due()

        # Threshold: a 20% fall intraday.
        due_block = feed.set_answer(PRICE * 80 // 100, sender=owner).block_number
        threshold_blocks = mine_until_rebalanced(pool, due_block, keeper.address)
        assert pool.reference_price() == PRICE * 80 // 100 * 10**10

        log = world["bot"].output()
        assert "(time)" in log and "(threshold)" in log  # each rebalance reported with its reason
        assert "gas " in log and "bounty 1.000000" in log
        print(f"reaction: {time_blocks} block(s) for time, {threshold_blocks} for threshold")
        assert time_blocks <= 3 and threshold_blocks <= 3


def test_keeper__competing_keeper_wins__no_crash_no_resend(tmp_path, accounts):
    with keeper_world(tmp_path, accounts) as world:
        pool, feed, owner, keeper, bot = (
            world["pool"],
            world["system"].feed,
            world["owner"],
            world["keeper"],
            world["bot"],
        )
        rival = accounts[5]
        chain.provider.make_request("evm_setAutomine", [False])
        try:
            warp(DAY)
            send_unmined(feed.set_answer, PRICE, sender=owner)
            chain.provider.make_request("evm_mine", [])  # the bot sees a due pool in this block...
            send_unmined(pool.rebalance, sender=rival)  # ...and so does a rival, who sends first
            time.sleep(3)  # the bot decides against the same block, and may send too
            chain.provider.make_request("evm_mine", [])
        finally:
            chain.provider.make_request("evm_setAutomine", [True])
        time.sleep(2)
        rebalances = list(pool.Rebalance.range(0, chain.blocks.head.number + 1))
        assert len(rebalances) == 1
        keeper_nonce = keeper.nonce
        for _ in range(4):  # later blocks: nothing is due, nothing is (re)sent
            chain.provider.make_request("evm_mine", [])
            time.sleep(0.5)
        assert keeper.nonce == keeper_nonce
        assert bot.alive()
        # And it keeps working: the next due rebalance is the bot's.
        warp(DAY)
        due_block = feed.set_answer(PRICE, sender=owner).block_number
        mine_until_rebalanced(pool, due_block, keeper.address)


def test_keeper__stale_oracle__waits_then_rebalances_on_recovery(tmp_path, accounts):
    with keeper_world(tmp_path, accounts) as world:
        pool, feed, owner, keeper, bot = (
            world["pool"],
            world["system"].feed,
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

        due_block = feed.set_answer(PRICE, sender=owner).block_number
        mine_until_rebalanced(pool, due_block, keeper.address)
        bot.wait_for_log("oracle back")


def test_keeper__survives_node_restart_and_its_own_restart(tmp_path, accounts):
    with keeper_world(tmp_path, accounts) as world:
        pool, feed, owner, keeper = world["pool"], world["system"].feed, world["owner"], world["keeper"]
        node, bot = world["node"], world["bot"]

        node.stop()
        time.sleep(3)  # the bot's polling fails meanwhile
        node.start()
        assert chain.provider.make_request("eth_blockNumber", [])
        warp(DAY)
        due_block = feed.set_answer(PRICE, sender=owner).block_number
        mine_until_rebalanced(pool, due_block, keeper.address, max_blocks=60)
        assert bot.alive()
        assert "block polling stopped" in bot.output()

        bot.stop()
        nonce = keeper.nonce
        bot.start()
        for _ in range(3):  # restarted, nothing due: it must not send anything
            chain.provider.make_request("evm_mine", [])
            time.sleep(0.5)
        assert keeper.nonce == nonce
        warp(DAY)
        due_block = feed.set_answer(PRICE, sender=owner).block_number
        mine_until_rebalanced(pool, due_block, keeper.address)
        assert keeper.nonce == nonce + 1  # exactly one transaction for one due rebalance


def test_keeper__unprofitable_gas__refuses_unless_told(tmp_path, accounts):
    """With a real gas price and a tiny bounty the default policy does not send."""
    with keeper_world(tmp_path, accounts, env={"INVERSE_KEEPER_NATIVE_PRICE": str(2_000 * 10**18)}) as world:
        pool, feed, owner, keeper, bot = (
            world["pool"],
            world["system"].feed,
            world["owner"],
            world["keeper"],
            world["bot"],
        )
        params = read_parameters(pool)
        pool.set_parameters(params | {"keeper_bounty": 1}, sender=owner)  # one millionth of a dollar
        nonce = keeper.nonce
        warp(DAY)
        feed.set_answer(PRICE, sender=owner)
        for _ in range(6):
            chain.provider.make_request("evm_mine", [])
            time.sleep(0.5)
        bot.wait_for_log("costs more than the bounty", timeout=30)
        assert keeper.nonce == nonce
        assert pool.rebalance_due()
