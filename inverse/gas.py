"""Where a transaction's gas goes, from the node's opcode trace (debug_traceTransaction).

The trace is split at the called contract's own frame, and at the frames of any
contract named in `inside` that it calls (the order book's call into its pool):
each storage read, storage write, hash, log and lock access is priced by its
opcode, each other external call by the gas it really took (access, transfer of
control and the callee's whole execution), and the rest is computation. A call
into a split frame leaves only its own cost (access, memory) as a call row.
Intrinsic gas (21,000 and the calldata) and the storage refund come from the
receipt, so the parts add up to `gas_used` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CALL_OPS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
HASH_OPS = {"KECCAK256", "SHA3"}
COLD_SLOAD = 2_100
# The suffix of a split call's own row: what entering the callee cost, its work split out.
CALL_ITSELF = " (the call itself)"


@dataclass
class Breakdown:
    """The parts of one transaction's gas, in the order a reader meets them."""

    gas_used: int
    intrinsic: int
    refund: int
    cold_reads: int = 0
    cold_read_gas: int = 0
    # Of the cold reads, those of slots the transaction then writes: a write to a
    # slot not read before pays the same cold surcharge, so these are not extra.
    written_cold_reads: int = 0
    written_cold_read_gas: int = 0
    warm_reads: int = 0
    warm_read_gas: int = 0
    writes: int = 0
    write_gas: int = 0
    hash_gas: int = 0
    log_gas: int = 0
    lock_gas: int = 0
    other_gas: int = 0
    calls: list[tuple[str, int]] = field(default_factory=list)  # (label, gas)

    def rows(self) -> list[tuple[str, int, int]]:
        """(part, gas, how many) rows whose gas sums to `gas_used`."""
        rows = [("intrinsic (21,000 + calldata)", self.intrinsic, 1)]
        for label in dict.fromkeys(label for label, _ in self.calls):
            gases = [gas for each, gas in self.calls if each == label]
            rows.append((f"call: {label}", sum(gases), len(gases)))
        rows += [
            ("storage reads, cold, of slots then written", self.written_cold_read_gas, self.written_cold_reads),
            (
                "storage reads, cold, read only",
                self.cold_read_gas - self.written_cold_read_gas,
                self.cold_reads - self.written_cold_reads,
            ),
            ("storage reads, warm", self.warm_read_gas, self.warm_reads),
            ("storage writes", self.write_gas, self.writes),
            ("hashing (commitments, mapping slots)", self.hash_gas, 0),
            ("events", self.log_gas, 0),
            ("reentrancy lock (transient)", self.lock_gas, 0),
            ("computation, memory, calldata decoding", self.other_gas, 0),
        ]
        if self.refund:
            rows.append(("storage refund", -self.refund, 0))
        return rows

    def call_gas(self, label: str) -> list[int]:
        """The gas of each call labelled `label` ("contract.function"), in order."""
        return [gas for each, gas in self.calls if each == label]


def intrinsic_gas(calldata: bytes) -> int:
    """21,000 plus 4 per zero byte and 16 per other byte of calldata."""
    return 21_000 + sum(4 if byte == 0 else 16 for byte in calldata)


def call_labels(contracts: dict) -> tuple[dict[str, str], dict[bytes, str]]:
    """From {"label": ape contract}: names by lowercase address and function names
    by selector, to label the external calls of a `breakdown`."""
    names = {contract.address.lower(): label for label, contract in contracts.items()}
    selectors = {
        bytes.fromhex(selector[2:]): signature.split("(")[0]
        for contract in contracts.values()
        for signature, selector in contract.contract_type.method_identifiers.items()
    }
    return names, selectors


def breakdown(
    web3, tx_hash: str, names: dict[str, str], selectors: dict[bytes, str], inside: tuple[str, ...] = ()
) -> Breakdown:
    """Splits the gas of `tx_hash`. `names` labels addresses (lowercase hex),
    `selectors` labels 4-byte function selectors, for the external calls;
    calls to the addresses in `inside` are split like the called contract."""
    tx = web3.eth.get_transaction(tx_hash)
    receipt = web3.eth.get_transaction_receipt(tx_hash)
    calldata = bytes(tx["input"])
    # No memory snapshots: a batch settlement's would run to gigabytes. The call
    # tracer gives each call's input (its selector) instead.
    steps = web3.provider.make_request("debug_traceTransaction", [tx_hash, {"disableStorage": True}])["result"][
        "structLogs"
    ]
    tree = web3.provider.make_request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])["result"]

    intrinsic = intrinsic_gas(calldata)
    result = Breakdown(gas_used=receipt["gasUsed"], intrinsic=intrinsic, refund=0)
    split = {address.lower() for address in inside}
    executed, _ = _frame(steps, 0, tree, str(tx["to"]).lower(), result, names, selectors, split, {})
    result.refund = intrinsic + executed - result.gas_used
    return result


def _frame(steps, start, node, address, result, names, selectors, split, cold) -> tuple[int, int]:
    """Splits the frame whose first step is `steps[start]` (its call-tracer node
    `node`, running at `address`) into `result`; returns the gas it executed and
    the index after it. `cold`: the slots read cold so far, (address, key) -> gas,
    until written."""
    depth = steps[start]["depth"]
    children = list(node.get("calls") or [])
    executed = 0
    index = start
    while index < len(steps) and steps[index]["depth"] >= depth:
        step = steps[index]
        op = step["op"]
        if op in CALL_OPS:
            # What the call really took: gas before it less gas when control is back.
            back = next(i for i in range(index + 1, len(steps)) if steps[i]["depth"] <= depth)
            cost = step["gas"] - steps[back]["gas"]
            target = "0x" + int(step["stack"][-2], 16).to_bytes(20, "big").hex()
            child = next((c for c in children if c.get("to", "").lower() == target), {})
            if child:
                children.remove(child)
            label = _call_label(target, child, names, selectors)
            if target in split and back > index + 1:
                inner, _ = _frame(steps, index + 1, child, target, result, names, selectors, split, cold)
                result.calls.append((label + CALL_ITSELF, cost - inner))
            else:
                result.calls.append((label, cost))
            index = back
        else:
            cost = step["gasCost"]
            if op == "SLOAD" and cost >= COLD_SLOAD:
                result.cold_reads += 1
                result.cold_read_gas += cost
                cold[(address, step["stack"][-1])] = cost
            elif op == "SLOAD":
                result.warm_reads += 1
                result.warm_read_gas += cost
            elif op == "SSTORE":
                result.writes += 1
                result.write_gas += cost
                if (read := cold.pop((address, step["stack"][-1]), None)) is not None:
                    result.written_cold_reads += 1
                    result.written_cold_read_gas += read
            elif op in HASH_OPS:
                result.hash_gas += cost
            elif op.startswith("LOG"):
                result.log_gas += cost
            elif op in ("TLOAD", "TSTORE"):
                result.lock_gas += cost
            else:
                result.other_gas += cost
            index += 1
        executed += cost
    return executed, index


def _call_label(target: str, node: dict, names: dict[str, str], selectors: dict[bytes, str]) -> str:
    data = node.get("input") or "0x"
    selector = bytes.fromhex(data[2:10]) if len(data) >= 10 else b""
    return f"{names.get(target, target)}.{selectors.get(selector, selector.hex() or '?')}"
