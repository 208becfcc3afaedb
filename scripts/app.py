"""Serve the web page for a network's deployed markets.

    ape run app --network ethereum:sepolia:node        # markets of deployments/sepolia.json
    ape run app --network ethereum:local:http://127.0.0.1:8545 --manifest deployments/local.json

The page (built by `make page`) reads the markets from the manifest and talks to the
chain through the visitor's browser wallet; on a local network it reads through the
node's URL too, so the markets show before a wallet connects. For a local playground
with everything running, see `make app` (`ape run playground`).
"""

import json
import time
from pathlib import Path

import click
from ape import chain
from ape.cli import ConnectedProviderCommand

from inverse.app import PageServer, check_built, page_config
from inverse.deploy import manifest_path


@click.command(cls=ConnectedProviderCommand)
@click.option("--manifest", "manifest_file", help="Deployment manifest (default: deployments/<network>.json).")
@click.option("--port", default=8000, show_default=True, help="Port of the page (0: a free one).")
def cli(network, manifest_file, port):
    """Serve the web page for the markets of a deployment manifest."""
    check_built()
    path = Path(manifest_file) if manifest_file else manifest_path(network.name)
    if not path.exists():
        raise click.ClickException(f"no manifest at {path}: deploy first (ape run deploy), or pass --manifest")
    manifest = json.loads(path.read_text())
    if manifest["chain_id"] != chain.chain_id:
        raise click.ClickException(
            f"{path} is for chain {manifest['chain_id']}, and this network is chain {chain.chain_id}"
        )
    uri = getattr(chain.provider, "uri", None)
    # A remote node's URL may carry an API key: only a local one is handed to the page.
    rpc = uri if network.is_local and isinstance(uri, str) and uri.startswith("http") else None
    with PageServer(page_config(manifest, network.name, rpc), port) as server:
        click.echo(f"The page for {len(manifest['markets'])} market(s) of {path}: {server.url}  (Ctrl-C stops it)")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            click.echo("Stopped.")
