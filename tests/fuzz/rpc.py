"""The chain as the fuzz suite drives it: bare JSON-RPC over one kept-alive HTTP
connection to an Anvil of its own.

Through ape (or web3's request formatters, validators and middleware) a call costs
about a millisecond of Python; here it costs tens of microseconds, so a step's time
is mostly Anvil's. Anvil runs without automatic mining: a transaction is mined by
`evm_mine` at the time the machine chooses, and every account sends unsigned."""

import contextlib
import ctypes
import functools
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

ERROR_SELECTOR = bytes.fromhex("08c379a0")  # Error(string)
# Multicall3, at its address on every chain; `parallel.deploy_market` puts its code
# (from ape) in each worker's Anvil.
MULTICALL3 = "0xcA11bde05977b3631167028862bE2a173976CA11"


def revert_reason(data: bytes) -> str:
    """The reason in a revert's data ("" without one)."""
    if data[:4] != ERROR_SELECTOR:
        return ""
    return decode(["string"], data[4:])[0]


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
        return revert_reason(bytes.fromhex(data[2:]))


class Reverted:
    """A view that reverted, with its reason."""

    def __init__(self, reason: str):
        self.reason = reason

    def __repr__(self):
        return f"Reverted({self.reason!r})"


class Rpc:
    """`rpc("eth_blockNumber")`, `rpc.request(eth_call(...))`: JSON-RPC over one
    kept-alive HTTP/1.1 connection, written and read here (http.client's header parsing
    cost more than Anvil's answer to most calls)."""

    def __init__(self, url: str):
        host, port = url.removeprefix("http://").rstrip("/").split(":")
        self.socket = socket.create_connection((host, int(port)), timeout=120)
        self.socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.head = f"POST / HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n".encode()
        self.received = b""

    def _read_until(self, enough) -> None:
        while not enough():
            chunk = self.socket.recv(1 << 16)
            if not chunk:
                raise ConnectionError("anvil closed the connection")
            self.received += chunk

    def _post(self, payload):
        body = json.dumps(payload).encode()
        self.socket.sendall(self.head + b"Content-Length: %d\r\n\r\n" % len(body) + body)
        self._read_until(lambda: b"\r\n\r\n" in self.received)
        head, _, rest = self.received.partition(b"\r\n\r\n")
        status = head.split(b" ", 2)[1]
        length = int(re.search(rb"(?i)\r\ncontent-length: *(\d+)", head).group(1))
        self.received = rest
        self._read_until(lambda: len(self.received) >= length)
        answer, self.received = self.received[:length], self.received[length:]
        if status != b"200":
            raise ConnectionError(f"anvil answered {status.decode()}: {answer[:200]!r}")
        return json.loads(answer)

    def __call__(self, method: str, *params):
        answer = self._post({"jsonrpc": "2.0", "id": 1, "method": method, "params": list(params)})
        if "error" in answer:
            raise RpcError(answer["error"])
        return answer["result"]

    def request(self, call: tuple[str, list]):
        """`rpc.request(eth_call(...))`."""
        return self(call[0], *call[1])


@functools.cache
def selector(signature: str) -> bytes:
    return function_signature_to_4byte_selector(signature)


def calldata(signature: str, types: list = (), args: list = ()) -> bytes:
    data = selector(signature)
    return data + encode(list(types), list(args)) if types else data


def eth_call(to: str, data: bytes, sender: str | None = None, gas: int | None = None) -> tuple[str, list]:
    """An `eth_call` request at the latest block, for `Rpc.request`."""
    tx = {"to": to, "data": "0x" + data.hex()}
    if sender:
        tx["from"] = sender
    if gas:
        tx["gas"] = hex(gas)
    return "eth_call", [tx, "latest"]


def _word_decoder(kind: str):
    if kind.startswith("uint"):
        return lambda word: int.from_bytes(word, "big")
    if kind.startswith("int"):
        return lambda word: int.from_bytes(word, "big", signed=True)
    if kind == "bool":
        return lambda word: {0: False, 1: True}[int.from_bytes(word, "big")]
    if kind == "address":
        return lambda word: to_checksum_address(word[12:])
    return None


def decoder(out: str):
    """`out` ("uint256", "(bool,uint256)", ...) from return data: words of static types
    read directly (eth_abi's checks cost more than the call), anything else by eth_abi."""
    kinds = out[1:-1].split(",") if out.startswith("(") else [out]
    words = [_word_decoder(kind) for kind in kinds]
    if None in words:
        return lambda data: decode([out], data)[0]
    if not out.startswith("("):
        return lambda data: words[0](data[:32])
    return lambda data: tuple(word(data[32 * i : 32 * i + 32]) for i, word in enumerate(words))


def _aggregate3_results(data: bytes) -> list[tuple[bool, bytes]]:
    """Multicall3's `(bool success, bytes returnData)[]`, by its ABI layout: the array's
    offset and length, then each element's offset (from the first), and each element's
    bool word and its bytes' offset (from the element), length and data."""
    word = lambda at: int.from_bytes(data[at : at + 32], "big")  # noqa: E731
    start = word(0) + 32
    results = []
    for i in range(word(start - 32)):
        element = start + word(start + 32 * i)
        at = element + word(element + 32)
        results.append((word(element) == 1, data[at + 32 : at + 32 + word(at)]))
    return results


class Views:
    """A fixed list of view calls, read in one `eth_call` to Multicall3 (one call of
    forty views costs Anvil a third of a JSON-RPC batch of forty). `read(rpc)` returns
    {name: value}, a view that reverted giving `Reverted(reason)`; `read_all` raises
    instead."""

    def __init__(self):
        self.names, self.calls, self.decoders = [], [], []
        self._request = None

    def add(self, name: str, to: str, signature: str, args=(), arg_types=(), out="uint256"):
        self.names.append(name)
        self.calls.append((to, True, calldata(signature, arg_types, args)))  # allowed to fail
        self.decoders.append(decoder(out))
        self._request = None
        return self

    def read(self, rpc: Rpc) -> dict:
        if self._request is None:
            data = calldata("aggregate3((address,bool,bytes)[])", ["(address,bool,bytes)[]"], [self.calls])
            self._request = eth_call(MULTICALL3, data)
        results = _aggregate3_results(bytes.fromhex(rpc.request(self._request)[2:]))
        return {
            name: decode(data) if ok else Reverted(revert_reason(data))
            for name, decode, (ok, data) in zip(self.names, self.decoders, results, strict=True)
        }

    def read_all(self, rpc: Rpc) -> dict:
        values = self.read(rpc)
        for name, value in values.items():
            assert not isinstance(value, Reverted), (name, value)
        return values


class RawFeed:
    """The feed reads `inverse.orders.RoundReader` makes, as bare `eth_call`s (a
    missing round reverts: ValueError, as it expects)."""

    ROUND = staticmethod(decoder("(uint80,int256,uint256,uint256,uint80)"))
    PHASE = staticmethod(decoder("uint16"))

    def __init__(self, rpc: Rpc, address: str):
        self.rpc, self.address = rpc, address

    def _call(self, data: bytes, decode):
        try:
            raw = self.rpc.request(eth_call(self.address, data))
        except RpcError as error:
            raise ValueError(str(error)) from None
        return decode(bytes.fromhex(raw[2:]))

    def getRoundData(self, round_id: int):  # noqa: N802 (the feed's name)
        return self._call(calldata("getRoundData(uint80)", ["uint80"], [round_id]), self.ROUND)

    def latestRoundData(self):  # noqa: N802
        return self._call(calldata("latestRoundData()"), self.ROUND)

    def phaseId(self):  # noqa: N802
        return self._call(calldata("phaseId()"), self.PHASE)

    def decimals(self):
        return self._call(calldata("decimals()"), self.PHASE)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


ANVIL = Path(__file__).resolve().parents[2] / "bin" / "anvil"


def _stop_with_parent():
    """Linux: the kernel stops Anvil when the worker that started it dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class Anvil:
    """An Anvil process of one worker, its clock at `timestamp`, loaded with `state`
    ({"accounts": {address: {nonce, balance, code, storage}}}): mines only on
    `evm_mine`, accepts transactions from any account unsigned. Started through the
    project's wrapper (`bin/anvil`), which keeps no past state on disk: without it a
    long run leaves gigabytes under ~/.foundry."""

    def __init__(self, state: dict, timestamp: int):
        self.port = free_port()
        command = [
            str(ANVIL),
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
        # A session of its own: `stop` ends npm's launcher and the Anvil it started.
        self.process = subprocess.Popen(
            command,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=_stop_with_parent,
            start_new_session=True,
        )
        self.state = state
        try:
            self._connect()
            self.reset()
        except BaseException:
            self.stop()
            raise

    def _connect(self):
        deadline = time.monotonic() + 60
        while True:
            try:
                self.rpc = Rpc(self.url)
                self.rpc("eth_chainId")
                break
            except (ConnectionError, OSError):
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise RuntimeError("anvil did not start") from None
                time.sleep(0.05)

    def reset(self):
        """Back to the loaded state alone, at block 0 at its time. Anvil's cost of
        mining a block grows with every block it has mined (reverted ones too, and its
        memory with it); a reset brings both back down."""
        empty = {"block": None, "best_block_number": 0, "blocks": [], "transactions": [], "historical_states": None}
        self.rpc("anvil_reset")
        self.rpc("anvil_loadState", "0x" + json.dumps(empty | self.state).encode().hex())
        self.rpc("anvil_autoImpersonateAccount", True)
        self.rpc("anvil_setNextBlockBaseFeePerGas", "0x0")  # a reset forgets the command line's; 0 stays 0
        self.blocks = 0  # mined since: the caller counts them

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self):
        """Ends npm's launcher and the Anvil it started (one process group)."""
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)  # whatever is left of the group
        self.process.wait()
