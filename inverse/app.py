"""The web page's Python side: the data it is built with and the server that serves it.

`python -m inverse.app build app/dist` (run by `make page`) writes `app/dist/data.json`:
the ABIs the page calls, taken from the compiled contracts in `.build/` (never
written by hand), and the CLI's plain words for each revert reason, so the page and
`ape run inverse` explain a revert the same way. esbuild bundles `app/main.js`
beside it.

`serve(...)` serves `app/dist` and `/config.json` (the network, its chain id, the
deployment manifest and, for a local chain, the node's URL for reads), the way
`ape run app` and the playground (`ape run playground`) run it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from .constants import ORDER_KINDS, OUTCOMES
from .wallet import DEFAULT_DEADLINE_SECONDS, DEFAULT_SLIPPAGE_BPS

ROOT = Path(__file__).resolve().parents[1]
DIST = ROOT / "app" / "dist"
ARTIFACTS = ROOT / ".build" / "__local__.json"

# What the page calls on each contract. The collateral is any ERC-20 with EIP-2612
# (the mock's ABI has exactly that, plus its faucet `mint`); the feed is read for
# its latest round only, the oracle for its max age (the feed's heartbeat + 10%).
# On a pull market whose price on Pyth's contract is too old, the page reads the same
# views at Hermes's latest price through the PullRebalancer's `view_after_update`
# (one eth_call), with Pyth's contract and the feed's id from the pull oracle and
# Pyth's fee from Pyth's own `getUpdateFee` (the mock's ABI is Pyth's there).
ERC20_PERMIT = "name symbol decimals balanceOf allowance approve nonces DOMAIN_SEPARATOR eip712Domain".split()
ABI_FUNCTIONS = {
    "pool": ("InversePool", None),
    "book": ("OrderBook", None),
    "lens": ("PoolLens", None),
    "lp_token": ("LpToken", ("symbol", "decimals", "balanceOf", "totalSupply")),
    "collateral": ("MockCollateral", tuple(ERC20_PERMIT) + ("mint",)),
    "feed": ("MockAggregator", ("latestRoundData", "decimals")),
    "oracle": ("ChainlinkOracle", ("max_age",)),
    "pull_oracle": ("PythOracle", ("pyth", "price_id")),
    "pyth": ("MockPyth", ("getUpdateFee",)),
    "rebalancer": ("PullRebalancer", ("view_after_update",)),
}


def cli_module():
    """scripts/inverse.py, the wallet CLI, for its wording (it is a script, not a module)."""
    spec = importlib.util.spec_from_file_location("inverse_cli", ROOT / "scripts" / "inverse.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def abis(artifacts: Path = ARTIFACTS) -> dict:
    """{role: ABI}, from the compiled contracts (`ape compile`)."""
    if not artifacts.exists():
        raise SystemExit(f"{artifacts.relative_to(ROOT)} is missing: run `ape compile` first")
    types = json.loads(artifacts.read_text())["contractTypes"]
    out = {}
    for role, (name, keep) in ABI_FUNCTIONS.items():
        abi = types[name]["abi"]
        if keep is not None:
            abi = [item for item in abi if item.get("name") in keep]
            missing = set(keep) - {item.get("name") for item in abi}
            if missing:
                raise SystemExit(f"{name} has no {', '.join(sorted(missing))}")
        out[role] = abi
    return out


def app_data() -> dict:
    """Everything the page is built with besides its code."""
    cli = cli_module()
    return {
        "abis": abis(),
        "explanations": cli.EXPLANATIONS,
        "payment": cli.PAYMENT,
        "kinds": {str(k): v for k, v in ORDER_KINDS.items()},
        "outcomes": {str(k): v for k, v in OUTCOMES.items()},
    }


def build(out: Path) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "data.json"
    path.write_text(json.dumps(app_data(), indent=1) + "\n")
    return path


def page_config(
    manifest: dict,
    network: str,
    rpc: str | None,
    deadline_seconds: int = DEFAULT_DEADLINE_SECONDS,
    slippage_percent: float = DEFAULT_SLIPPAGE_BPS / 100,
    faucet: bool = False,
) -> dict:
    """What `/config.json` tells the page: which chain and markets, how to read them,
    where a pull market's price updates come from (INVERSE_HERMES_URL, else the
    manifest's `hermes`, as for the CLI) and the request defaults (the CLI's: a
    20-minute deadline, a 0.5% slippage bound)."""
    return {
        "network": network,
        "chain_id": manifest["chain_id"],
        "rpc": rpc,  # None: the page reads through the wallet
        "manifest": manifest,
        "hermes": os.environ.get("INVERSE_HERMES_URL") or manifest.get("hermes"),
        "deadline_seconds": deadline_seconds,
        "slippage_percent": slippage_percent,
        "faucet": faucet,  # the collateral is the mock: the page offers test USDC
    }


class _Handler(SimpleHTTPRequestHandler):
    config: bytes = b"{}"

    def do_GET(self):  # noqa: N802 (http.server's name)
        if self.path.split("?")[0] == "/config.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(self.config)))
            self.end_headers()
            self.wfile.write(self.config)
            return
        super().do_GET()

    def end_headers(self):
        self.send_header("Cache-Control", "no-store")
        super().end_headers()

    def log_message(self, *args):  # the terminal is the operator's, not an access log
        pass


def check_built() -> None:
    """Stops with what to do when `app/dist` has not been built."""
    if not all((DIST / name).exists() for name in ("index.html", "main.js", "data.json")):
        raise SystemExit("the page is not built: run `make page` (npm's esbuild bundles app/ into app/dist/)")


class PageServer:
    """The page on `http://127.0.0.1:<port>/`, in a background thread."""

    def __init__(self, config: dict, port: int = 0, host: str = "127.0.0.1"):
        check_built()
        handler = type("Handler", (_Handler,), {"config": json.dumps(config).encode()})
        self.server = ThreadingHTTPServer((host, port), partial(handler, directory=str(DIST)))
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "build":
        raise SystemExit("usage: python -m inverse.app build <dir>")
    print(f"wrote {build(Path(sys.argv[2]))}")
