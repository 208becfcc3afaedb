"""The fuzz suite reads return data without eth_abi (`tests/fuzz/rpc.py`, for speed):
held here to eth_abi's decoding of the same bytes."""

from eth_abi import encode
from eth_utils import to_checksum_address
from hypothesis import given
from hypothesis import strategies as st

from tests.fuzz.rpc import _aggregate3_results, decoder

uint256 = st.integers(0, 2**256 - 1)
int256 = st.integers(-(2**255), 2**255 - 1)
address = st.binary(min_size=20, max_size=20).map(to_checksum_address)


@given(st.lists(st.tuples(st.booleans(), st.binary(max_size=300)), max_size=60))
def test_multicall_results_as_eth_abi_encodes_them(results):
    assert _aggregate3_results(encode(["(bool,bytes)[]"], [results])) == results


@given(uint256, int256, st.booleans(), address, st.integers(0, 2**80 - 1))
def test_static_words_as_eth_abi_encodes_them(u, i, b, a, small):
    assert decoder("uint256")(encode(["uint256"], [u])) == u
    assert decoder("int256")(encode(["int256"], [i])) == i
    assert decoder("bool")(encode(["bool"], [b])) is b
    assert decoder("address")(encode(["address"], [a])) == a
    out = "(uint80,int256,bool,address,uint256)"
    assert decoder(out)(encode([out], [(small, i, b, a, u)])) == (small, i, b, a, u)
    # Anything else goes to eth_abi.
    assert decoder("string")(encode(["string"], ["oracle: stale price"])) == "oracle: stale price"
