"""The local price service (Hermes's REST shape, the chain's clock) through the Hermes
client, and its updates proven on the mock Pyth: the update it serves for a time is the
first at or after it, and only that one."""

import threading
from decimal import Decimal

import pytest
import requests

from inverse.hermes import Hermes, NotYetPublished
from inverse.price_service import ETH_USD, PricePath, PriceService, chain_clock, serve
from inverse.pyth import TEST_SIGNER, PriceUpdate

BTC_USD = "e62df6c8b4a85fe1a67db44dc12de5db330f7ac66b72dc658afedf0f4a415b43"


@pytest.fixture(scope="module")
def pyth(owner, project):
    return owner.deploy(project.MockPyth, TEST_SIGNER, 1)


@pytest.fixture
def service(chain):
    """The service on a free port, on the test chain's clock, ETH at 2,000 since 0."""
    state = PriceService(chain_clock(chain.provider.uri), PricePath(Decimal(2_000)))
    server = serve(state)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    yield url, state
    server.shutdown()
    server.server_close()


def parse(pyth, data: bytes, low: int, high: int):
    [feed] = pyth.parsePriceFeedUpdatesUnique.call([data], [ETH_USD], low, high, value=1)
    return feed


def test_latest__is_the_update_at_the_chains_now__and_pyth_accepts_it(service, pyth, chain):
    url, _ = service
    chain.mine(timestamp=chain.pending_timestamp + 10)
    now = chain.blocks.head.timestamp

    updates = Hermes(url).latest([ETH_USD])

    [parsed] = updates.parsed
    assert parsed["id"] == ETH_USD and parsed["price"]["price"] == str(2_000 * 10**8)
    assert parsed["price"]["expo"] == -8 and parsed["price"]["publish_time"] == now
    assert parsed["metadata"]["prev_publish_time"] == now - 1
    feed = parse(pyth, updates.data[0], now, now)
    assert (feed.price.price, feed.price.publishTime) == (2_000 * 10**8, now)


def test_at__the_first_update_at_or_after_t__proven_unique_on_pyth(service, pyth, chain):
    url, _ = service
    chain.mine(timestamp=chain.pending_timestamp + 100)
    t = chain.blocks.head.timestamp - 50
    hermes = Hermes(url)

    [data] = hermes.at(t, [ETH_USD]).data

    assert PriceUpdate.decode(data).publish_time == t
    assert parse(pyth, data, t, t + 60).price.publishTime == t
    # The next second's update is not the first at or after t: Pyth refuses it for t.
    [later] = hermes.at(t + 1, ["0x" + ETH_USD]).data
    with pytest.raises(Exception, match="0x45805f5d"):  # PriceFeedNotFoundWithinRange()
        parse(pyth, later, t, t + 60)


def test_at__a_time_after_the_chains_now__is_not_published_yet(service, chain):
    url, _ = service
    now = chain.blocks.head.timestamp
    with pytest.raises(NotYetPublished, match="chain's time"):
        Hermes(url).at(now + 5, [ETH_USD])


def test_post_price__moves_the_path_from_its_time__not_before(service, chain):
    url, _ = service
    chain.mine(timestamp=chain.pending_timestamp + 100)
    now = chain.blocks.head.timestamp
    reply = requests.post(f"{url}/price", json={"price": "1950.5", "from": now - 30})
    assert reply.status_code == 200
    hermes = Hermes(url)

    assert hermes.at(now - 31, [ETH_USD]).parsed[0]["price"]["price"] == str(2_000 * 10**8)
    assert hermes.at(now - 30, [ETH_USD]).parsed[0]["price"]["price"] == str(195_050_000_000)
    assert hermes.latest([ETH_USD]).parsed[0]["price"]["price"] == str(195_050_000_000)


@pytest.mark.parametrize(
    "request_, status, words",
    [
        (("get", "/v2/updates/price/latest", None), 400, "ids[] is required"),
        (("get", f"/v2/updates/price/latest?ids[]={BTC_USD}", None), 404, "Price ids not found"),
        (("get", "/v2/updates/price/latest?ids[]=zz", None), 400, "price ids are hex"),
        (("get", f"/v2/updates/price/soon?ids[]={ETH_USD}", None), 404, "unknown path"),
        (("post", "/price", {"price": "0"}), 400, "must be positive"),
        (("post", "/price", {"cost": "1"}), 400, "POST /price takes"),
    ],
)
def test_bad_requests__a_clear_error__and_the_path_unchanged(service, request_, status, words):
    url, state = service
    method, path, body = request_
    reply = requests.request(method, url + path, json=body)
    assert reply.status_code == status and words in reply.json()["message"]
    assert state.path.at(10**10) == 2_000 * 10**8


def test_client__unknown_feed__says_so_not_not_yet(service):
    url, _ = service
    with pytest.raises(RuntimeError, match="Price ids not found"):
        Hermes(url).at(1, [BTC_USD])


@pytest.mark.parametrize("path", [f"/v2/updates/price/latest?ids[]={ETH_USD}", "/v2/updates/price/latest"])
def test_get__from_a_page_on_another_origin__the_browser_may_read_the_answer(service, path):
    """The page (served from its own port) fetches updates from the service: every
    answer, an error too, carries the header that lets a browser hand it to the page."""
    url, _ = service
    reply = requests.get(url + path, headers={"Origin": "http://127.0.0.1:8000"})
    assert reply.headers["Access-Control-Allow-Origin"] == "*"
