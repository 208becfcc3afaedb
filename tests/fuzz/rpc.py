"""The chain as the fuzz suite drives it: bare JSON-RPC over one kept-alive HTTP
connection to an Anvil of its own.

Through ape (or web3's request formatters, validators and middleware) a call costs
about a millisecond of Python; here it costs tens of microseconds, so a step's time
is mostly Anvil's. Anvil runs without automatic mining: a transaction is mined by
`evm_mine` at the time the machine chooses, and every account sends unsigned."""

import ctypes
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)


class RpcError(Exception):
    def __init__(self, error: dict):
        super().__init__(error.get("message", error))
        self.code = error.get("code")
        self.data = error.get("data")

    def revert_reason(self) -> str | None:
        """The reason of a reverted call ("" without one); None if the call did not revert."""
        data = self.data
        if isinstance(data, dict):
            data = data.get("data")
        if not isinstance(data, str) or not data.startswith("0x"):
            return "" if "revert" in str(self).lower() else None
        raw = bytes.fromhex(data[2:])
        if raw[:4] != ERROR_SELECTOR:
            return ""
        return decode(["string"], raw[4:])[0]


class Rpc:
    """`rpc("eth_blockNumber")`, `rpc.batch([(method, params), ...])`."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        self.connection = http.client.HTTPConnection(host, int(port), timeout=120)
        self.connection.connect()
        self.connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _post(self, payload):
        self.connection.request("POST", "/", json.dumps(payload), {"Content-Type": "application/json"})
        return json.loads(self.connection.getresponse().read())

    def __call__(self, method: str, *params):
        answer = self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer["result"]

    def request(self, call: tuple[str, list]):
        """One call as `batch` takes it: `rpc.request(eth_call(...))`."""
        return self(call[0], *call[1])

    def batch(self, calls: list[tuple[str, list]]) -> list:
        """Each call's result, or its `RpcError` (not raised), in order."""
        if not calls:
            return []
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        answers = sorted(self._post(payload), key=lambda a: a["id"])
        return [RpcError(a["error"]) if "error" in a else a["result"] for a in answers]

    def close(self):
        self.connection.close()


def calldata(signature: str, types: list = (), args: list = ()) -> bytes:
    data = function_signature_to_4byte_selector(signature)
    return data + encode(list(types), list(args)) if types else data


def eth_call(to: str, data: bytes, sender: str | None = None, gas: int | None = None) -> tuple[str, list]:
    """An `eth_call` request at the latest block, for `Rpc.batch`."""
    tx = {"to": to, "data": "0x" + data.hex()}
    if sender:
        tx["from"] = sender
    if gas:
        tx["gas"] = hex(gas)
    return "eth_call", [tx, "latest"]


def _decoder(out: str):
    if out == "uint256":
        return lambda raw: int(raw, 16)
    if out == "bool":
        return lambda raw: {0: False, 1: True}[int(raw, 16)]
    return lambda raw: decode([out], bytes.fromhex(raw[2:]))[0]


class BatchReader:
    """A fixed list of view calls, read in one JSON-RPC batch: `read(rpc)` returns
    {name: value} (and raises the `RpcError` of a view that reverts); `requests()`
    and `decode(results)` let a caller send them itself and see which reverted (the
    value is then the `RpcError`)."""

    def __init__(self):
        self.calls = []  # (name, request, decoder)

    def add(self, name: str, to: str, signature: str, args=(), arg_types=(), out="uint256"):
        self.calls.append((name, eth_call(to, calldata(signature, arg_types, args)), _decoder(out)))
        return self

    def requests(self) -> list:
        return [request for _, request, _ in self.calls]

    def decode(self, results: list) -> dict:
        return {
            name: raw if isinstance(raw, RpcError) else decoder(raw)
            for (name, _, decoder), raw in zip(self.calls, results, strict=True)
        }

    def read(self, rpc: Rpc) -> dict:
        values = self.decode(rpc.batch(self.requests()))
        for value in values.values():
            if isinstance(value, RpcError):
                raise value
        return values


class RawFeed:
    """The feed reads `inverse.orders.RoundReader` makes, as bare `eth_call`s (a
    missing round reverts: ValueError, as it expects)."""

    ROUND = ["uint80", "int256", "uint256", "uint256", "uint80"]

    def __init__(self, rpc: Rpc, address: str):
        self.rpc, self.address = rpc, address

    def _call(self, data: bytes, types: list):
        try:
            raw = self.rpc.request(eth_call(self.address, data))
        except RpcError as error:
            raise ValueError(str(error)) from None
        return decode(types, bytes.fromhex(raw[2:]))

    def getRoundData(self, round_id: int):  # noqa: N802 (the feed's name)
        return self._call(calldata("getRoundData(uint80)", ["uint80"], [round_id]), self.ROUND)

    def latestRoundData(self):  # noqa: N802
        return self._call(calldata("latestRoundData()"), self.ROUND)

    def phaseId(self):  # noqa: N802
        return self._call(calldata("phaseId()"), ["uint16"])[0]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _stop_with_parent():
    """Linux: the kernel stops Anvil when the worker that started it dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Anvil:
    """An Anvil process of one worker, its clock at `timestamp`, loaded with `state`
    ({"accounts": {address: {nonce, balance, code, storage}}}): mines only on
    `evm_mine`, accepts transactions from any account unsigned, keeps no state on
    disk (the project's `anvil` wrapper)."""

    def __init__(self, state: dict, timestamp: int):
        self.port = free_port()
        command = [
            "anvil",
            "--port",
            str(self.port),
            "--no-mining",
            "--hardfork",
            "prague",
            "--block-base-fee-per-gas",
            "0",
            "--gas-price",
            "0",
            "--timestamp",
            str(timestamp),
            "--silent",
        ]
        self.process = subprocess.Popen(
            command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=_stop_with_parent
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self.rpc = Rpc(self.url)
                self.rpc("eth_chainId")
                break
            except (ConnectionError, OSError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("anvil did not start") from None
                time.sleep(0.05)
        empty = {"block": None, "best_block_number": 0, "blocks": [], "transactions": [], "historical_states": None}
        dump = empty | state
        self.rpc("anvil_loadState", "0x" + json.dumps(dump).encode().hex())
        self.rpc("anvil_autoImpersonateAccount", True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.process.pid, 9)
                self.process.wait()
