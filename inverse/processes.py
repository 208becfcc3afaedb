"""Real processes, for the demo and the end-to-end tests: an Anvil node that can be
killed and restarted (its state kept in a file), and the keeper bot run with the
documented silverback command."""

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def end(process, sig: int = signal.SIGINT, timeout: float = 20) -> None:
    """Ask a running `process` to stop with `sig`; kill it if it has not within `timeout` s."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(sig)
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# The chain id ape expects of each network it is given by URL.
CHAIN_IDS = {"local": 1337, "sepolia": 11_155_111}


class AnvilNode:
    """`anvil` on a fixed port, dumping its state on exit so a restart resumes the
    same chain. It mines on each transaction, or every `block_time` seconds; with
    `network="sepolia"` it stands in for Sepolia (its chain id) in a rehearsal."""

    def __init__(self, workdir: Path, network: str = "local", block_time: float | None = None):
        self.port = free_port()
        self.state = workdir / "anvil-state.json"
        self.log = workdir / "anvil.log"
        self.network = network
        self.block_time = block_time
        self.process = None

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def network_choice(self) -> str:
        """What `--network` takes to reach this node."""
        return f"ethereum:{self.network}:{self.uri}"

    def start(self):
        command = [
            "anvil",
            "--port",
            str(self.port),
            "--state",
            str(self.state),
            "--hardfork",
            "prague",
            "--chain-id",
            str(CHAIN_IDS[self.network]),
        ]
        if self.block_time:
            command += ["--block-time", str(self.block_time)]
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.post(self.uri, json={"jsonrpc": "2.0", "id": 1, "method": "eth_chainId"}, timeout=1)
                return
            except requests.RequestException:
                time.sleep(0.2)
        raise RuntimeError(f"anvil did not start: {self.log.read_text()[-2000:]}")

    def stop(self):
        end(self.process)  # SIGINT, graceful: dumps the state file
        self.process = None


class KeeperBot:
    """The keeper, started exactly as the README says, logging to a file."""

    def __init__(self, workdir: Path, node: AnvilNode, pools: list[str] | None, account: str = "TEST::2", env=None):
        """Watches `pools`, or (None) those of the manifest named by INVERSE_MANIFEST in `env`."""
        self.log = workdir / "keeper.log"
        self.command = [
            str(BIN / "silverback"),
            "run",
            "--runner",
            "inverse.runner:ResilientRunner",
            "--network",
            node.network_choice,
            "--account",
            account,
            # Last: silverback imports the bot while parsing, and it needs the network by then.
            "inverse.keeper:bot",
        ]
        # Silverback remembers the last block it processed per bot name (under
        # .silverback-sessions/); a fresh chain needs a fresh name, or the bot would
        # wait for a block number the new chain has not reached.
        self.name = f"keeper-{workdir.name}"
        self.env = os.environ | {"PYTHONUNBUFFERED": "1", "SILVERBACK_BOT_NAME": self.name} | (env or {})
        if pools is not None:
            self.env["INVERSE_POOLS"] = ",".join(pools)
        self.process = None

    def start(self):
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        self.wait_for_log("Startup complete", timeout=120)

    def output(self) -> str:
        return self.log.read_text()[self.offset :] if self.log.exists() else ""

    def wait_for_log(self, text: str, timeout: float = 60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.output():
                return
            if self.process.poll() is not None:
                raise RuntimeError(f"keeper exited:\n{self.output()[-4000:]}")
            time.sleep(0.3)
        raise TimeoutError(f"no {text!r} in the keeper's log:\n{self.output()[-4000:]}")

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def forget(self):
        """Drop the bot's remembered state once its chain is gone."""
        shutil.rmtree(ROOT / ".silverback-sessions" / self.name, ignore_errors=True)

    def stop(self):
        end(self.process)


class PriceServiceProcess:
    """The local price service (`inverse/price_service.py`) on a port of its own,
    on `node`'s clock, logging to a file."""

    def __init__(self, workdir: Path, node: AnvilNode, price: str = "2000"):
        self.log = workdir / "price-service.log"
        self.port = free_port()
        self.command = [
            str(BIN / "python"),
            "-m",
            "inverse.price_service",
            "--rpc",
            node.uri,
            "--port",
            str(self.port),
            "--price",
            price,
        ]
        self.process = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        with open(self.log, "a") as log:
            self.process = subprocess.Popen(self.command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                requests.get(f"{self.url}/v2/updates/price/latest", timeout=1)
                return
            except requests.RequestException:
                if self.process.poll() is not None:
                    raise RuntimeError(f"the price service exited: {self.log.read_text()[-2000:]}") from None
                time.sleep(0.2)
        raise RuntimeError(f"the price service did not start: {self.log.read_text()[-2000:]}")

    def stop(self):
        end(self.process, signal.SIGTERM, timeout=10)
        self.process = None
