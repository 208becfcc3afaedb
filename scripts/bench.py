"""Gas of every user-facing operation, from real receipts on a local Anvil, next to
anchors measured in the same run: a plain snekmate ERC-20 transfer and a snekmate
ERC-4626 deposit and redeem. Writes BENCHMARKS.md.

    make bench
"""

from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand
from eth_account import Account

from inverse.deploy import deploy_mock_system

USDC = 10**6


def permit_signature(token, owner, spender, value, deadline):
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": n, "type": t}
                for n, t in (
                    ("name", "string"),
                    ("version", "string"),
                    ("chainId", "uint256"),
                    ("verifyingContract", "address"),
                )
            ],
            "Permit": [
                {"name": n, "type": t}
                for n, t in (
                    ("owner", "address"),
                    ("spender", "address"),
                    ("value", "uint256"),
                    ("nonce", "uint256"),
                    ("deadline", "uint256"),
                )
            ],
        },
        "primaryType": "Permit",
        "domain": {"name": token.name(), "version": "1", "chainId": chain.chain_id, "verifyingContract": token.address},
        "message": {
            "owner": owner.address,
            "spender": spender.address,
            "value": value,
            "nonce": token.nonces(owner),
            "deadline": deadline,
        },
    }
    signed = Account.sign_typed_data(owner.private_key, full_message=typed)
    return signed.v, signed.r.to_bytes(32, "big"), signed.s.to_bytes(32, "big")


def measure() -> tuple[dict, dict]:
    owner, keeper, lp, holder, other = accounts.test_accounts[:5]
    system = deploy_mock_system(owner, leverages=(1,))
    pool, feed, usdc = next(iter(system.pools.values())), system.feed, system.collateral
    vault = owner.deploy(project.BenchVault, usdc)
    for account in (lp, holder, other):
        usdc.mint(account, 10**12, sender=account)
        usdc.approve(pool, 2**256 - 1, sender=account)
        usdc.approve(vault, 2**256 - 1, sender=account)
    far = chain.blocks.head.timestamp + 10**7
    ours = {}
    ours["lp_deposit (first)"] = pool.lp_deposit(100_000 * USDC, 0, lp, far, sender=lp).gas_used
    ours["lp_deposit (repeat)"] = pool.lp_deposit(1_000 * USDC, 0, lp, far, sender=lp).gas_used
    ours["mint (first, new holder)"] = pool.mint(1_000 * USDC, 0, holder, far, sender=holder).gas_used
    ours["mint (repeat)"] = pool.mint(1_000 * USDC, 0, holder, far, sender=holder).gas_used
    ours["redeem (partial)"] = pool.redeem(10**20, 0, holder, far, sender=holder).gas_used
    pool.transfer(other, 10**18, sender=holder)  # the receiver now holds some, as the anchor's does
    ours["transfer (inverse token)"] = pool.transfer(other, 10**18, sender=holder).gas_used
    v, r, s = permit_signature(pool, holder, other, 10**18, far)
    ours["permit (inverse token)"] = pool.permit(holder, other, 10**18, far, v, r, s, sender=other).gas_used
    chain.mine(deltatime=86_400)
    feed.set_answer(2_000 * 10**8, sender=owner)
    call = {"from": keeper.address, "to": pool.address, "data": pool.checkUpkeep.encode_input(b"")}
    ours["checkUpkeep (call)"] = chain.provider.web3.eth.estimate_gas(call)
    ours["rebalance (time)"] = pool.rebalance(sender=keeper).gas_used
    feed.set_answer(1_600 * 10**8, sender=owner)
    ours["rebalance (threshold)"] = pool.rebalance(sender=keeper).gas_used
    ours["lp_withdraw"] = pool.lp_withdraw(10**20, 0, lp, far, sender=lp).gas_used
    ours["redeem (full)"] = pool.redeem(pool.balanceOf(holder), 0, holder, far, sender=holder).gas_used

    anchors = {}
    anchors["snekmate ERC-20 transfer"] = usdc.transfer(other, USDC, sender=holder).gas_used
    vault.deposit(1_000 * USDC, lp, sender=lp)
    anchors["snekmate ERC-4626 deposit"] = vault.deposit(1_000 * USDC, holder, sender=holder).gas_used
    anchors["snekmate ERC-4626 redeem"] = vault.redeem(
        vault.balanceOf(holder) // 2, holder, holder, sender=holder
    ).gas_used
    return ours, anchors


NEAREST = {
    "mint": "snekmate ERC-4626 deposit",
    "lp_deposit": "snekmate ERC-4626 deposit",
    "redeem": "snekmate ERC-4626 redeem",
    "lp_withdraw": "snekmate ERC-4626 redeem",
    "transfer": "snekmate ERC-20 transfer",
}


def table(ours: dict, anchors: dict) -> str:
    lines = ["| operation | gas | nearest anchor | ratio |", "| --- | ---: | --- | ---: |"]
    for name, gas in ours.items():
        anchor = next((a for key, a in NEAREST.items() if name.startswith(key)), None)
        ratio = f"{gas / anchors[anchor]:.2f}x" if anchor else ""
        lines.append(f"| {name} | {gas:,} | {anchor or ''} | {ratio} |")
    for name, gas in anchors.items():
        lines.append(f"| *anchor:* {name} | {gas:,} | | |")
    return "\n".join(lines)


@click.command(cls=ConnectedProviderCommand)
@click.option("--output", default="BENCHMARKS.md", show_default=True)
def cli(output):
    """Measure gas from receipts and write the table."""
    ours, anchors = measure()
    text = table(ours, anchors)
    click.echo(text)
    Path(output).write_text(
        "# Gas benchmark\n\n"
        "Regenerated by `make bench`: gas from real receipts on a local Anvil (6-decimal mock USDC,\n"
        "-1x market, defaults of SPEC 6), each operation next to its nearest anchor measured in the same run.\n"
        "`checkUpkeep` is a call: its figure is the gas estimate.\n\n" + text + "\n"
    )
