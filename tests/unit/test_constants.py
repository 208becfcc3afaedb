"""The Python side mirrors the contracts' shared constants in one place
(`inverse/constants.py`): every name both define has the same value."""

import re
from pathlib import Path

import inverse.constants

CONSTANTS_VY = Path(__file__).parents[2] / "contracts/constants.vy"
DECLARATION = re.compile(r"^([A-Z][A-Z0-9_]*): constant\(\w+\) = (.+)$", re.MULTILINE)


def contract_constants() -> dict[str, int]:
    values: dict[str, int] = {}
    for name, expression in DECLARATION.findall(CONSTANTS_VY.read_text()):
        # Literals, and earlier constants combined with * // + - **.
        values[name] = eval(expression, {"__builtins__": {}}, dict(values))  # noqa: S307
    return values


def test_constants__python_mirror__equals_every_value_the_contracts_define():
    contract = contract_constants()
    shared = {name for name in contract if hasattr(inverse.constants, name)}
    assert {"WAD", "PULL_SLOT", "PULL_REBALANCE_WINDOW", "MAX_BATCH", "DUST_SUPPLY"} <= shared
    assert {name: getattr(inverse.constants, name) for name in shared} == {name: contract[name] for name in shared}
