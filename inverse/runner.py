"""A silverback runner that outlives its node.

Kept apart from `inverse.keeper`: silverback imports the runner while parsing its
command line, before it connects, and the keeper module needs the connection."""

import asyncio

from ape import chain
from ape.logging import logger
from silverback.runner import PollingRunner

# Seconds between looks at the chain's head while it has not moved, where the network
# names no block time (a local node: ape's own polling would look again at once, and
# a bot would spend a whole core asking). Elsewhere half the block time, as ape does.
LOCAL_POLL_INTERVAL = 0.1


class ResilientRunner(PollingRunner):
    """Silverback's polling runner, but a node that goes away (restart, network
    trouble) does not end the bot: block polling resumes with backoff, from the block
    after the last one handled, so none is skipped."""

    async def _block_task(self, task_data):
        interval = chain.provider.network.block_time / 2 or LOCAL_POLL_INTERVAL
        delay = 1.0
        next_block = None
        while not self.shutdown_event.is_set():
            try:
                head = await asyncio.to_thread(lambda: chain.provider.web3.eth.block_number)
                if next_block is None:
                    next_block = head + 1  # from the next block on, as ape's `poll_blocks`
                if head < next_block:
                    await asyncio.sleep(interval)
                    continue
                block = await asyncio.to_thread(chain.provider.get_block, next_block)
                delay = 1.0
                next_block += 1
                self._runtime_task_group.create_task(self.run_task(task_data, block))
            except Exception as error:
                logger.warning(
                    f"keeper: block polling stopped ({type(error).__name__}: {error}); retrying in {delay:.0f}s"
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
