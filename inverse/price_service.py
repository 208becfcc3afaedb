"""The local price service: Pyth's Hermes, for a chain on this machine.

No Pyth network exists offline, so this process signs the updates of one price path
with the mock Pyth's test signer (`inverse/pyth.py`) and serves them in Hermes's REST
shape, so the keeper, the CLI and the page fetch them through the same client code they
would point at a real Hermes (`inverse/hermes.py`):

    GET /v2/updates/price/latest?ids[]=<id>        the update published at the chain's now
    GET /v2/updates/price/<t>?ids[]=<id>           the first update at or after t
    POST /price {"price": <USD>, "from": <t>}       the path: this price from t (default now)
    POST /price {"prices": [{"price", "from"}, ...]} several, in order (a path known ahead)

A price is published every second of the chain's clock (the latest block's timestamp),
each with the one before it as `prev_publish_time`, so the first update at or after any
time is exactly one, as on Pyth. A time after the chain's now has no update yet (404,
as Hermes answers). Run: `python -m inverse.price_service --rpc URL [--port P]`."""

from __future__ import annotations

import argparse
import bisect
import json
import threading
from collections.abc import Callable
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import requests

from .pyth import PriceUpdate, hermes_response

# Pyth's ETH/USD price id (the same on every chain); the service serves it by default.
ETH_USD = "ff61491a931112ddf1bd8147cd1b641375f79f5825126d665480874634fd0ace"
EXPO = -8
CONFIDENCE = Decimal("0.0005")  # the confidence interval, as a fraction of the price


class PricePath:
    """Prices by time: each set price holds from its time until the next one."""

    def __init__(self, price: Decimal, since: int = 0):
        self._times, self._prices = [since], [_scaled(price)]
        self._lock = threading.Lock()

    def set(self, price: Decimal, since: int) -> None:
        scaled = _scaled(price)  # checked before anything changes
        with self._lock:
            i = bisect.bisect_right(self._times, since)
            # A new price replaces whatever the path said from `since` on.
            del self._times[i:], self._prices[i:]
            self._times.append(since)
            self._prices.append(scaled)

    def at(self, t: int) -> int:
        """The price (times 10**-EXPO) published at second `t`."""
        with self._lock:
            return self._prices[max(bisect.bisect_right(self._times, t) - 1, 0)]


def _scaled(price: Decimal) -> int:
    value = int(Decimal(price) * 10**-EXPO)
    if value <= 0:
        raise ValueError(f"a price must be positive, not {price}")
    return value


def chain_clock(rpc: str) -> Callable[[], int]:
    """The chain's now: its latest block's timestamp."""
    session = requests.Session()
    session.trust_env = False  # a node on this machine: no proxy

    def now() -> int:
        body = {"jsonrpc": "2.0", "id": 1, "method": "eth_getBlockByNumber", "params": ["latest", False]}
        return int(session.post(rpc, json=body, timeout=10).json()["result"]["timestamp"], 16)

    return now


class PriceService:
    """The service's state and answers, apart from HTTP (tests use it directly too)."""

    def __init__(self, clock: Callable[[], int], path: PricePath, feeds: tuple[str, ...] = (ETH_USD,)):
        self.clock, self.path = clock, path
        self.feeds = {bytes.fromhex(f.removeprefix("0x")) for f in feeds}

    def update(self, feed: bytes, t: int) -> PriceUpdate:
        price = self.path.at(t)
        conf = int(price * CONFIDENCE)
        return PriceUpdate(feed, price, conf, EXPO, t, t - 1, ema_price=price, ema_conf=conf)

    def answer(self, path: str, query: dict) -> tuple[int, dict]:
        """(HTTP status, body) for a GET, as Hermes answers it."""
        ids = query.get("ids[]", []) + query.get("ids", [])
        if not ids:
            return 400, {"message": "ids[] is required: the price feeds to fetch, in hex"}
        try:
            feeds = [bytes.fromhex(i.removeprefix("0x")) for i in ids]
        except ValueError:
            return 400, {"message": f"price ids are hex: {ids}"}
        unknown = [i for i, f in zip(ids, feeds, strict=True) if f not in self.feeds]
        if unknown:
            return 404, {"message": f"Price ids not found: {', '.join(unknown)}"}
        now = self.clock()
        which = path.removeprefix("/v2/updates/price/")
        if which == "latest":
            t = now
        elif which.isdigit():
            t = int(which)
            if t > now:
                return 404, {"message": f"no update at or after {t} yet: the chain's time is {now}"}
        else:
            return 404, {"message": f"unknown path {path}"}
        return 200, hermes_response([self.update(f, t) for f in feeds])

    def set_price(self, body: dict) -> tuple[int, dict]:
        """One price from a time, or (`{"prices": [...]}`) several, each from its time, in order."""
        try:
            steps = body["prices"] if "prices" in body else [body]
            checked = [(Decimal(str(step["price"])), int(step.get("from", self.clock()))) for step in steps]
            for price, since in checked:
                self.path.set(price, since)
        except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as error:
            return 400, {
                "message": f'POST /price takes {{"price": <USD>, "from": <seconds>}} or {{"prices": [...]}}: {error}'
            }
        price, since = checked[-1]
        return 200, {"price": str(price), "from": since}


def serve(service: PriceService, port: int = 0) -> ThreadingHTTPServer:
    """An HTTP server for `service` on localhost (`port` 0: any free one); call
    `serve_forever()` on it, or run it in a thread."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            url = urlparse(self.path)
            self._reply(*service.answer(url.path, parse_qs(url.query)))

        def do_POST(self):
            if urlparse(self.path).path != "/price":
                return self._reply(404, {"message": f"unknown path {self.path}"})
            length = int(self.headers.get("Content-Length") or 0)
            try:
                body = json.loads(self.rfile.read(length) or b"{}")
            except json.JSONDecodeError as error:
                return self._reply(400, {"message": f"the body is not JSON: {error}"})
            self._reply(*service.set_price(body))

        def _reply(self, status: int, body: dict):
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("Access-Control-Allow-Origin", "*")  # the page fetches it too
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):  # quiet: the demo prints its table and nothing else
            pass

    return ThreadingHTTPServer(("127.0.0.1", port), Handler)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rpc", required=True, help="the chain's JSON-RPC URL (its clock is the service's)")
    parser.add_argument("--port", type=int, default=0, help="the port to serve on (default: any free one)")
    parser.add_argument("--price", default="2000", help="the first price, in USD (default 2000)")
    args = parser.parse_args(argv)
    server = serve(PriceService(chain_clock(args.rpc), PricePath(Decimal(args.price))), args.port)
    print(f"price service on http://127.0.0.1:{server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
