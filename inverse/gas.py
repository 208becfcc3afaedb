"""Where a transaction's gas goes, from the node's opcode trace (debug_traceTransaction).

The trace is split at the called contract's own frame: each storage read, storage
write, log and lock access is priced by its opcode, each external call by the gas
it really took (access, transfer of control and the callee's whole execution),
and the rest is computation. Intrinsic gas (21,000 and the calldata) and the
storage refund come from the receipt, so the parts add up to `gas_used` exactly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CALL_OPS = {"CALL", "STATICCALL", "DELEGATECALL", "CALLCODE"}
COLD_SLOAD = 2_100


@dataclass
class Breakdown:
    """The parts of one transaction's gas, in the order a reader meets them."""

    gas_used: int
    intrinsic: int
    refund: int
    cold_reads: int = 0
    cold_read_gas: int = 0
    warm_reads: int = 0
    warm_read_gas: int = 0
    writes: int = 0
    write_gas: int = 0
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
            ("storage reads, cold", self.cold_read_gas, self.cold_reads),
            ("storage reads, warm", self.warm_read_gas, self.warm_reads),
            ("storage writes", self.write_gas, self.writes),
            ("events", self.log_gas, 0),
            ("reentrancy lock (transient)", self.lock_gas, 0),
            ("computation, memory, calldata decoding", self.other_gas, 0),
        ]
        if self.refund:
            rows.append(("storage refund", -self.refund, 0))
        return rows


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


def breakdown(web3, tx_hash: str, names: dict[str, str], selectors: dict[bytes, str]) -> Breakdown:
    """Splits the gas of `tx_hash`. `names` labels addresses (lowercase hex),
    `selectors` labels 4-byte function selectors, for the external calls."""
    tx = web3.eth.get_transaction(tx_hash)
    receipt = web3.eth.get_transaction_receipt(tx_hash)
    calldata = bytes(tx["input"])
    steps = web3.provider.make_request(
        "debug_traceTransaction", [tx_hash, {"enableMemory": True, "disableStorage": True}]
    )["result"]["structLogs"]

    intrinsic = intrinsic_gas(calldata)
    result = Breakdown(gas_used=receipt["gasUsed"], intrinsic=intrinsic, refund=0)
    top = steps[0]["depth"]
    executed = 0
    for index, step in enumerate(steps):
        if step["depth"] != top:
            continue
        op = step["op"]
        if op in CALL_OPS:
            # What the call really took: gas before it less gas when control is back.
            back = next(s for s in steps[index + 1 :] if s["depth"] == top)
            cost = step["gas"] - back["gas"]
            result.calls.append((_call_label(step, names, selectors), cost))
        else:
            cost = step["gasCost"]
            if op == "SLOAD" and cost >= COLD_SLOAD:
                result.cold_reads += 1
                result.cold_read_gas += cost
            elif op == "SLOAD":
                result.warm_reads += 1
                result.warm_read_gas += cost
            elif op == "SSTORE":
                result.writes += 1
                result.write_gas += cost
            elif op.startswith("LOG"):
                result.log_gas += cost
            elif op in ("TLOAD", "TSTORE"):
                result.lock_gas += cost
            else:
                result.other_gas += cost
        executed += cost
    result.refund = intrinsic + executed - result.gas_used
    return result


def _call_label(step: dict, names: dict[str, str], selectors: dict[bytes, str]) -> str:
    stack = step["stack"]
    target = "0x" + int(stack[-2], 16).to_bytes(20, "big").hex()
    # Arguments on the stack (top first): gas, target, [value,] in_offset, in_size, ...
    in_offset = int(stack[-4 if step["op"] in ("CALL", "CALLCODE") else -3], 16)
    memory = "".join(word.removeprefix("0x") for word in step.get("memory") or [])
    selector = bytes.fromhex(memory[2 * in_offset : 2 * in_offset + 8]) if memory else b""
    return f"{names.get(target, target)}.{selectors.get(selector, selector.hex() or '?')}"
