"""Order history on a node that caps `eth_getLogs` ranges, as public RPCs do: the
CLI's `orders`, the settlement it waits for and the keeper's queue read it in pages
(`inverse.orders.paged_logs`), so a market weeks old is read the same as a new one."""

import pytest

from inverse.orders import OrderCache, paged_logs, requested_orders
from inverse.wallet import account_orders, settlement_of

MAX_RANGE = 4  # blocks per eth_getLogs this node answers
LIMIT = f"eth_getLogs is limited to a {MAX_RANGE} block range"  # as a public RPC words it


def test_paged_logs__a_node_capping_the_range__every_block_read_once_in_order():
    asked = []

    def fetch(first, last):
        asked.append((first, last))
        if last - first + 1 > MAX_RANGE:
            raise ValueError(f"query exceeds max block range {MAX_RANGE}")
        return list(range(first, last + 1))

    assert paged_logs(fetch, 3, 40) == list(range(3, 41))
    answered = [(first, last) for first, last in asked if last - first + 1 <= MAX_RANGE]
    assert sorted(answered) == answered and answered[0][0] == 3 and answered[-1][1] == 40
    assert all(b[0] == a[1] + 1 for a, b in zip(answered, answered[1:], strict=False))  # no gap, no block twice
    assert paged_logs(fetch, 5, 4) == []


def test_paged_logs__another_error__raised_as_it_is():
    def fetch(first, last):
        raise ValueError("execution reverted")

    with pytest.raises(ValueError, match="execution reverted"):
        paged_logs(fetch, 0, 100)


@pytest.fixture
def capped_node(chain, monkeypatch):
    """The node refuses an eth_getLogs over more than MAX_RANGE blocks, with the
    words a public RPC uses; lists the ranges it answered (None: one it refused)."""
    answered = []
    node = chain.provider.web3.provider  # what ape's and web3's requests go through
    original = node.make_request

    def make_request(method, params):
        if method == "eth_getLogs":
            first, last = (params[0].get(k) for k in ("fromBlock", "toBlock"))
            first, last = (int(x, 16) if isinstance(x, str) else x for x in (first, last))
            if last - first + 1 > MAX_RANGE:
                answered.append(None)  # refused
                return {"jsonrpc": "2.0", "id": 1, "error": {"code": -32005, "message": LIMIT}}
            answered.append((first, last))
        return original(method, params)

    monkeypatch.setattr(node, "make_request", make_request)
    return answered


def test_order_history__on_a_capped_node__the_cli_and_keeper_read_every_order(
    order_pool, book, order_funded, lp, minter, deadline, settle, chain, capped_node
):
    start = chain.blocks.head.number
    book.request_lp_deposit(100_000 * 10**6, 0, lp, deadline, sender=lp)
    for _ in range(3):
        chain.mine(5)  # orders spread over more blocks than one query may span
        book.request_mint(100 * 10**6, 0, minter, deadline, sender=minter)
    first_id = book.next_order()
    reader = OrderCache(book.address, start)
    assert [o.id for o in reader.update(chain.blocks.head.number)] == list(range(first_id, first_id + 4))
    settle()
    chain.mine(10)

    assert [o.id for o in requested_orders(book, start)] == list(range(first_id, first_id + 4))
    mine = account_orders(order_pool, book, minter, start)
    assert [(order.id, log.order_id) for order, log in mine] == [(i, i) for i in range(first_id + 1, first_id + 4)]
    assert settlement_of(order_pool, first_id + 3, start).order_id == first_id + 3
    refused = capped_node.count(None)
    assert refused and all(last - first + 1 <= MAX_RANGE for first, last in filter(None, capped_node))
