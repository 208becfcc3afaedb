"""Deploy the markets of a network's config section and write its manifest.

ape run deploy --network ethereum:sepolia:node --account <alias>
"""

from pathlib import Path

import click
from ape.cli import ConnectedProviderCommand, account_option

from inverse.deploy import (
    CONFIG_PATH,
    ConfigError,
    deploy_plan,
    load_config,
    manifest_path,
    plan_deployment,
    write_manifest,
)


@click.command(cls=ConnectedProviderCommand)
@account_option()
@click.option("--config", "config_path", default=CONFIG_PATH, show_default=True, help="Deployment config file.")
@click.option("--manifest", "manifest_file", help="Where to write the manifest (default: deployments/<network>.json).")
@click.option("--force", is_flag=True, help="Replace an existing manifest for this network.")
def cli(network, account, config_path, manifest_file, force):
    """Deploy inverse-token markets as the config says, then write deployments/<network>.json."""
    # A config section is named after the network: `sepolia` for Ethereum's, `base-sepolia` for Base's.
    ecosystem = network.ecosystem.name
    name = network.name if ecosystem == "ethereum" else f"{ecosystem}-{network.name}"
    path = Path(manifest_file) if manifest_file else manifest_path(name)
    if _started_for_this_command(network.provider):
        click.echo(
            f"Note: ape started the node of {ecosystem}:{network.name} for this command: the chain, and the markets "
            "deployed on it, disappear when it ends. To keep them, start a node (`anvil --chain-id 1337`) and pass "
            "--network ethereum:local:http://127.0.0.1:8545, or deploy to a testnet (README: From zero to a "
            "Sepolia market); `make app` runs a local playground.",
            err=True,
        )
    try:
        if path.exists() and not force:
            raise ConfigError(f"{path} exists: pass --force to replace it")
        plan = plan_deployment(load_config(config_path, name), network.is_local)
        manifest = deploy_plan(account, plan, f"{ecosystem}:{network.name}")
        write_manifest(manifest, path, force=force)
    except ConfigError as error:
        raise click.ClickException(str(error)) from error
    for market in manifest["markets"]:
        click.echo(f"{market['symbol']} (-{market['leverage']}x): pool {market['pool']}, LP token {market['lp_token']}")
    click.echo(f"manifest: {path}")


def _started_for_this_command(provider) -> bool:
    """Whether ape runs the chain inside this command (its test chain) or started
    the node process itself: either is gone when the command ends."""
    return provider.name == "test" or getattr(provider, "process", None) is not None
