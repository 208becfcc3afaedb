"""Wallet CLI for holders and LPs.

    ape run inverse status      --network <net> --account <alias> [--market 1 | --pool 0x...]
    ape run inverse mint 100    --network <net> --account <alias> --market 3
    ape run inverse redeem all  ...
    ape run inverse lp-deposit 5000 / lp-withdraw all / rebalance

Amounts are in whole units (collateral for mint and lp-deposit, tokens for redeem
and lp-withdraw), or `all`. Every write shows its preview and slippage bound and
asks before sending (`--yes` skips the question).
"""

import json
from decimal import Decimal, InvalidOperation
from pathlib import Path

import click
from ape import chain, project
from ape.cli import ConnectedProviderCommand, account_option
from ape.contracts import ContractInstance
from ape.exceptions import ContractLogicError

from inverse import wallet
from inverse.deploy import _ERC20_ABI, manifest_path, partial_contract
from inverse.status import fmt_units, fmt_wad, format_status, read_status

# Reverts in plain words; anything else is shown as the contract said it.
EXPLANATIONS = {
    "pool: exceeds max mint": "the LPs cannot back that much right now (see 'mint capacity' in status)",
    "pool: insufficient backing": "LPs must keep enough value in the pool to back the holders; withdraw less",
    "pool: slippage": "the price moved past your slippage bound since the preview; try again",
    "pool: paused": "the guardian has paused new mints and deposits; redeem and withdraw still work",
    "pool: shut down": "this market has been shut down; only redeem and LP withdraw work",
    "pool: exhausted": "the pool owes holders all it has; mints are closed until LPs add capital",
    "pool: nav is zero": "the token's NAV reached zero: this market is over",
    "pool: rebalance not due": "nothing to do: the pool is not due for a rebalance",
    "oracle: stale price": "the price feed has not updated recently; try again once it does",
    "oracle: sequencer down": "the L2 sequencer is down; prices cannot be trusted until it is back",
    "pool: permit failed": "the collateral did not accept the permit signature and the pool is not approved",
}

# How the pool gets the collateral for a mint or LP deposit (`wallet.how_to_pay`).
PAYMENT = {
    "allowance": "Collateral: already approved.",
    "permit": "Collateral: by a permit signature (you sign it next), no approval transaction.",
    "approve": "Collateral: this token takes no permit, so an approval for this amount is sent first.",
}


def pool_options(command):
    command = click.option("--pool", "pool_address", help="Pool address (instead of --market).")(command)
    command = click.option("--market", default="1", show_default=True, help="Leverage of the market in the manifest.")(
        command
    )
    return click.option("--manifest", help="Deployment manifest (default: deployments/<network>.json).")(command)


def write_options(command):
    command = click.option("--yes", is_flag=True, help="Send without asking.")(command)
    return click.option("--slippage", default=0.5, show_default=True, help="Slippage bound, in percent.")(command)


def load_pool(network, manifest, market, pool_address):
    return _pool_at(pool_address) if pool_address else _pool_at(_manifest_pool(network, manifest, market))


def _manifest_pool(network, manifest, market) -> str:
    path = Path(manifest) if manifest else manifest_path(network.name)
    if not path.exists():
        raise click.ClickException(f"no manifest at {path}: deploy first, or pass --pool")
    for entry in json.loads(path.read_text())["markets"]:
        if entry["leverage"] == market:
            return entry["pool"]
    raise click.ClickException(f"no -{market}x market in {path}")


def _pool_at(address: str):
    if not chain.provider.get_code(address):
        raise click.ClickException(f"no contract at {address} on this network")
    # Not `.at()`: on a live network ape would remember the pool's type for that
    # address on disk, even for a mistyped one.
    return ContractInstance(chain.provider.network.ecosystem.decode_address(address), project.InstantPool.contract_type)


def parse_amount(text: str, decimals: int, available: int) -> int:
    if text == "all":
        return available
    try:
        amount = int(Decimal(text) * 10**decimals)
    except InvalidOperation as error:
        raise click.BadParameter(f"'{text}' is not an amount") from error
    if amount <= 0:
        raise click.BadParameter("the amount must be positive")
    return amount


def send(description: str, action, yes: bool):
    click.echo(description)
    if not yes and not click.confirm("Send?", default=False):
        raise click.Abort()
    try:
        receipt = action()
    except ContractLogicError as error:
        reason = str(error.message)
        raise click.ClickException(f"{reason}: {EXPLANATIONS.get(reason, 'the pool refused')}") from error
    click.echo(f"Done in block {receipt.block_number} (gas {receipt.gas_used}).")
    return receipt


def collateral_of(pool):
    return partial_contract(
        pool.collateral(),
        _ERC20_ABI
        + [
            {
                "type": "function",
                "name": "balanceOf",
                "stateMutability": "view",
                "inputs": [{"name": "a", "type": "address"}],
                "outputs": [{"name": "", "type": "uint256"}],
            },
        ],
    )


@click.group()
def cli():
    """Mint, redeem and provide liquidity from a wallet."""


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
def status(network, account, manifest, market, pool_address):
    """Price, NAV, reference, next rebalance, capacity, LP value and your positions."""
    pool = load_pool(network, manifest, market, pool_address)
    collateral = collateral_of(pool)
    decimals = collateral.decimals()
    click.echo(format_status(f"{pool.symbol()} at {pool.address}", read_status(pool, collateral)))
    lp_token = project.LpToken.at(pool.lp_token())
    tokens, lp_shares = pool.balanceOf(account), lp_token.balanceOf(account)
    tokens_worth = fmt_units(_try(pool.preview_redeem, tokens), decimals)
    lp_worth = fmt_units(_try(pool.preview_lp_withdraw, lp_shares), decimals)
    click.echo(f"  your tokens      {fmt_wad(tokens, 4)} (worth {tokens_worth})")
    click.echo(f"  your LP shares   {fmt_wad(lp_shares, 4)} (worth {lp_worth})")
    click.echo(f"  your collateral  {fmt_units(collateral.balanceOf(account), decimals)}")


def _try(view, *args):
    try:
        return view(*args)
    except ContractLogicError:
        return None


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
@write_options
@click.argument("amount")
def mint(network, account, manifest, market, pool_address, slippage, yes, amount):
    """Pay AMOUNT collateral for inverse tokens."""
    pool = load_pool(network, manifest, market, pool_address)
    collateral = collateral_of(pool)
    decimals = collateral.decimals()
    assets = parse_amount(amount, decimals, collateral.balanceOf(account))
    preview = pool.preview_mint(assets)
    bps = int(slippage * 100)
    send(
        f"Mint: pay {fmt_units(assets, decimals)}, receive about {fmt_wad(preview, 6)} {pool.symbol()} "
        f"(at least {fmt_wad(wallet.with_slippage(preview, bps), 6)}); NAV {fmt_wad(pool.nav(), 6)}.\n"
        + PAYMENT[wallet.how_to_pay(pool, account, assets)],
        lambda: wallet.mint(pool, account, assets, bps),
        yes,
    )


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
@write_options
@click.argument("amount")
def redeem(network, account, manifest, market, pool_address, slippage, yes, amount):
    """Redeem AMOUNT inverse tokens (or `all`) for collateral."""
    pool = load_pool(network, manifest, market, pool_address)
    decimals = collateral_of(pool).decimals()
    shares = parse_amount(amount, 18, pool.balanceOf(account))
    preview = pool.preview_redeem(shares)
    bps = int(slippage * 100)
    send(
        f"Redeem {fmt_wad(shares, 6)} {pool.symbol()}: receive about {fmt_units(preview, decimals)} "
        f"(at least {fmt_units(wallet.with_slippage(preview, bps), decimals)}).",
        lambda: wallet.redeem(pool, account, shares, bps),
        yes,
    )


@cli.command("lp-deposit", cls=ConnectedProviderCommand)
@account_option()
@pool_options
@write_options
@click.argument("amount")
def lp_deposit(network, account, manifest, market, pool_address, slippage, yes, amount):
    """Add AMOUNT collateral to the LP side."""
    pool = load_pool(network, manifest, market, pool_address)
    collateral = collateral_of(pool)
    decimals = collateral.decimals()
    assets = parse_amount(amount, decimals, collateral.balanceOf(account))
    preview = pool.preview_lp_deposit(assets)
    bps = int(slippage * 100)
    send(
        f"LP deposit: pay {fmt_units(assets, decimals)}, receive about {fmt_wad(preview, 6)} LP shares "
        f"(at least {fmt_wad(wallet.with_slippage(preview, bps), 6)}).\n"
        + PAYMENT[wallet.how_to_pay(pool, account, assets)],
        lambda: wallet.lp_deposit(pool, account, assets, bps),
        yes,
    )


@cli.command("lp-withdraw", cls=ConnectedProviderCommand)
@account_option()
@pool_options
@write_options
@click.argument("amount")
def lp_withdraw(network, account, manifest, market, pool_address, slippage, yes, amount):
    """Burn AMOUNT LP shares (or `all`) for collateral."""
    pool = load_pool(network, manifest, market, pool_address)
    decimals = collateral_of(pool).decimals()
    shares = parse_amount(amount, 18, project.LpToken.at(pool.lp_token()).balanceOf(account))
    preview = pool.preview_lp_withdraw(shares)
    bps = int(slippage * 100)
    send(
        f"LP withdraw {fmt_wad(shares, 6)} shares: receive about {fmt_units(preview, decimals)} "
        f"(at least {fmt_units(wallet.with_slippage(preview, bps), decimals)}); "
        f"LPs may withdraw {fmt_units(pool.max_lp_withdraw(), decimals)} in all now.",
        lambda: wallet.lp_withdraw(pool, account, shares, bps),
        yes,
    )


@cli.command(cls=ConnectedProviderCommand)
@account_option()
@pool_options
@click.option("--yes", is_flag=True, help="Send without asking.")
def rebalance(network, account, manifest, market, pool_address, yes):
    """Rebalance the pool if it is due, for the keeper bounty."""
    pool = load_pool(network, manifest, market, pool_address)
    if not pool.rebalance_due():
        raise click.ClickException(f"pool: rebalance not due: {EXPLANATIONS['pool: rebalance not due']}")
    decimals = collateral_of(pool).decimals()
    send(
        f"Rebalance at price {fmt_wad(pool.oracle_price(), 2)} "
        f"for a bounty of {fmt_units(pool.keeper_bounty(), decimals)}.",
        lambda: pool.rebalance(sender=account),
        yes,
    )
