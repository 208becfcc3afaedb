"""The local price service as the demo, the playground and the tests start it: its own
process on a port of its own, on a real node's clock, read through the Hermes client."""

import pytest
import requests

from inverse.hermes import Hermes, NotYetPublished
from inverse.price_service import ETH_USD
from inverse.processes import AnvilNode, PriceServiceProcess
from inverse.pyth import PriceUpdate


def _rpc(node, method, *params):
    body = {"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)}
    return requests.post(node.uri, json=body, timeout=10).json()["result"]


def test_price_service__own_process__serves_the_nodes_time_and_moves_with_it(tmp_path):
    node = AnvilNode(tmp_path)
    node.start()
    service = PriceServiceProcess(tmp_path, node, price="2500")
    try:
        service.start()
        hermes = Hermes(service.url)
        head = int(_rpc(node, "eth_getBlockByNumber", "latest", False)["timestamp"], 16)

        [data] = hermes.latest([ETH_USD]).data
        update = PriceUpdate.decode(data)
        assert (update.publish_time, update.price, update.expo) == (head, 2_500 * 10**8, -8)

        # An hour on the node's clock: the service publishes for it, and the price set
        # from a time holds from then on.
        _rpc(node, "evm_mine", head + 3_600)
        requests.post(f"{service.url}/price", json={"price": 2_400, "from": head + 1_800}, timeout=10)
        assert PriceUpdate.decode(hermes.at(head + 1_799, [ETH_USD]).data[0]).price == 2_500 * 10**8
        assert PriceUpdate.decode(hermes.at(head + 1_800, [ETH_USD]).data[0]).price == 2_400 * 10**8
        with pytest.raises(NotYetPublished):
            hermes.at(head + 3_601, [ETH_USD])
    finally:
        service.stop()
        node.stop()
    assert service.process is None
