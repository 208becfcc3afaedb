"""The main job: deploy the whole system on a local Anvil and show it working."""

import click
from ape import accounts, chain
from ape.cli import ConnectedProviderCommand

from inverse.deploy import deploy_mock_system, leverage_label
from inverse.status import format_status, read_status


@click.command(cls=ConnectedProviderCommand)
def cli():
    """Deploy -1x and -3x markets with a mock feed and collateral; seed LPs; print their status."""
    owner, lp, minter = accounts.test_accounts[:3]
    system = deploy_mock_system(owner, leverages=(1, 3))
    deadline = chain.pending_timestamp + 3_600
    for leverage, pool in system.pools.items():
        for account in (lp, minter):
            system.collateral.mint(account, 10**12, sender=account)
            system.collateral.approve(pool, 10**12, sender=account)
        pool.lp_deposit(100_000 * 10**6, 0, lp, deadline, sender=lp)
        pool.mint(10_000 * 10**6, 0, minter, deadline, sender=minter)
        click.echo(
            format_status(f"ETH -{leverage_label(leverage)}x at {pool.address}", read_status(pool, system.collateral))
        )
        click.echo()
