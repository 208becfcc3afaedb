"""Reading many views in one JSON-RPC batch: the fuzz suite checks every number
after every step, and one round trip instead of thirty keeps it fast."""

from eth_abi import decode, encode
from eth_utils import function_signature_to_4byte_selector


class BatchReader:
    """`read()` returns {name: value} for a fixed list of view calls."""

    def __init__(self, web3):
        self.web3 = web3
        self.calls = []  # (name, to, data, output types)

    def add(self, name: str, to: str, signature: str, args=(), arg_types=(), out="uint256"):
        data = function_signature_to_4byte_selector(signature)
        if args:
            data += encode(list(arg_types), list(args))
        self.calls.append((name, to, data, out))
        return self

    def read(self, block="latest") -> dict:
        with self.web3.batch_requests() as batch:
            for _, to, data, _ in self.calls:
                batch.add(self.web3.eth.call({"to": to, "data": data}, block))
            results = batch.execute()
        values = {}
        for (name, _, _, out), raw in zip(self.calls, results, strict=True):
            values[name] = decode([out], bytes(raw))[0]
        return values


class RawFeed:
    """The three feed reads `inverse.orders.settlement_batch` makes, over raw
    JSON-RPC: ape traces every reverted call (a missing round reverts), which
    makes it many times slower."""

    def __init__(self, web3, address: str):
        self.web3, self.address = web3, address

    def _call(self, signature: str, args=(), types=()):
        data = function_signature_to_4byte_selector(signature) + (encode(list(types), list(args)) if args else b"")
        try:
            return bytes(self.web3.eth.call({"to": self.address, "data": "0x" + data.hex()}, "latest"))
        except Exception as error:  # a reverted read: the round does not exist
            raise ValueError(str(error)) from None

    def getRoundData(self, round_id: int):  # noqa: N802 (the feed's name)
        return decode(
            ["uint80", "int256", "uint256", "uint256", "uint80"],
            self._call("getRoundData(uint80)", [round_id], ["uint80"]),
        )

    def latestRoundData(self):  # noqa: N802
        return decode(["uint80", "int256", "uint256", "uint256", "uint80"], self._call("latestRoundData()"))

    def phaseId(self):  # noqa: N802
        return decode(["uint16"], self._call("phaseId()"))[0]
