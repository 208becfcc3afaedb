"""Pyth price updates: made and signed by the local price service, fetched by the keeper,
CLI and page in Hermes's REST shape, passed untouched to the chain's Pyth contract.

Offline there is no Pyth network, so the mock Pyth contract (`contracts/mocks/MockPyth.vy`)
takes updates signed by one test signer instead of Wormhole's guardians. An update is the
ABI encoding of

    id, price, conf, expo, publish_time, prev_publish_time, ema_price, ema_conf, v, r, s

(352 bytes), where (v, r, s) signs keccak256 of the first 256 bytes. What a reader of an
update needs beyond its bytes comes from Hermes's `parsed` list, as from a real Hermes."""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import decode, encode
from eth_keys import keys
from eth_utils import keccak

# The mock's test signer. Its key is public on purpose: a test double's.
TEST_SIGNER_KEY = keccak(text="inverse-token: the mock Pyth's test signer")
TEST_SIGNER = keys.PrivateKey(TEST_SIGNER_KEY).public_key.to_checksum_address()

_SIGNED = ["bytes32", "int64", "uint64", "int32", "uint64", "uint64", "int64", "uint64"]
_SIGNATURE = ["uint8", "bytes32", "bytes32"]
UPDATE_BYTES = 32 * (len(_SIGNED) + len(_SIGNATURE))


@dataclass(frozen=True)
class PriceUpdate:
    """One feed's price at one publish time, as Pyth publishes it: `price * 10**expo`."""

    id: bytes  # the feed's 32-byte price id
    price: int
    conf: int
    expo: int
    publish_time: int
    prev_publish_time: int  # when the feed's previous price was published
    ema_price: int = 0
    ema_conf: int = 0

    def sign(self, key: bytes = TEST_SIGNER_KEY) -> bytes:
        """The update's bytes, signed, as the mock Pyth verifies them."""
        payload = encode(
            _SIGNED,
            [
                self.id,
                self.price,
                self.conf,
                self.expo,
                self.publish_time,
                self.prev_publish_time,
                self.ema_price,
                self.ema_conf,
            ],
        )
        signature = keys.PrivateKey(key).sign_msg_hash(keccak(payload))
        return payload + encode(_SIGNATURE, [signature.v + 27, signature.r.to_bytes(32), signature.s.to_bytes(32)])

    @classmethod
    def decode(cls, data: bytes) -> PriceUpdate:
        """An update's fields from its bytes (the signature is the contract's to check)."""
        if len(data) != UPDATE_BYTES:
            raise ValueError(f"a mock Pyth update is {UPDATE_BYTES} bytes, not {len(data)}")
        return cls(*decode(_SIGNED, data[: 32 * len(_SIGNED)]))

    def hermes(self) -> dict:
        """The update's entry in Hermes's `parsed` list."""
        return {
            "id": self.id.hex(),
            "price": _hermes_price(self.price, self.conf, self.expo, self.publish_time),
            "ema_price": _hermes_price(self.ema_price, self.ema_conf, self.expo, self.publish_time),
            "metadata": {
                "slot": None,
                "proof_available_time": self.publish_time,
                "prev_publish_time": self.prev_publish_time,
            },
        }


def _hermes_price(price: int, conf: int, expo: int, publish_time: int) -> dict:
    # Hermes writes price and conf as decimal strings (they are 64-bit).
    return {"price": str(price), "conf": str(conf), "expo": expo, "publish_time": publish_time}


def hermes_response(updates: list[PriceUpdate], key: bytes = TEST_SIGNER_KEY) -> dict:
    """What Hermes answers to `GET /v2/updates/price/...?ids[]=...&encoding=hex`: the
    updates' bytes (hex, no 0x) and their parsed fields."""
    return {
        "binary": {"encoding": "hex", "data": [u.sign(key).hex() for u in updates]},
        "parsed": [u.hermes() for u in updates],
    }


def price_id(text: str) -> bytes:
    """A 32-byte price id from its hex form (with or without 0x)."""
    raw = bytes.fromhex(text.removeprefix("0x"))
    if len(raw) != 32:
        raise ValueError(f"a Pyth price id is 32 bytes, not {len(raw)}: {text}")
    return raw
