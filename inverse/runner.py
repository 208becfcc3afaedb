"""A silverback runner that outlives its node.

Kept apart from `inverse.keeper`: silverback imports the runner while parsing its
command line, before it connects, and the keeper module needs the connection."""

import asyncio

from ape import chain
from ape.logging import logger
from silverback.runner import PollingRunner
from silverback.utils import async_wrap_iter

# Seconds without a new block before polling is restarted (the minute timer still runs).
SPARSE_CHAIN_WAIT = 3_600


class ResilientRunner(PollingRunner):
    """Silverback's polling runner, but a node that goes away (restart, network
    trouble) does not end the bot: block polling resumes with backoff."""

    async def _block_task(self, task_data):
        delay = 1.0
        next_block = None  # resume where polling stopped: no block is skipped
        while not self.shutdown_event.is_set():
            try:
                # A quiet chain is not an error: wait for blocks as long as it takes.
                blocks = chain.blocks.poll_blocks(start_block=next_block, new_block_timeout=SPARSE_CHAIN_WAIT)
                async for block in async_wrap_iter(blocks):
                    delay = 1.0
                    next_block = block.number + 1
                    self._runtime_task_group.create_task(self.run_task(task_data, block))
            except Exception as error:
                logger.warning(
                    f"keeper: block polling stopped ({type(error).__name__}: {error}); retrying in {delay:.0f}s"
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
