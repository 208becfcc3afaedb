"""Gas of every user-facing operation, from real receipts on a local Anvil, next to
anchors measured in the same run: a plain snekmate ERC-20 transfer and a snekmate
ERC-4626 deposit and redeem. Writes BENCHMARKS.md.

    make bench
"""

from pathlib import Path

import click
from ape import accounts, chain, project
from ape.cli import ConnectedProviderCommand

from inverse.deploy import deploy_mock_system
from inverse.gas import breakdown, call_labels
from inverse.wallet import sign_permit

USDC = 10**6


# The operations whose gas is split from a trace, and which receipt to split.
TRACED = ("mint (repeat)", "redeem (partial)", "rebalance (time)")

# What any design must pay for these operations: the transaction itself, the
# price, the collateral moving, the state it must change and the events.
UNAVOIDABLE = ("intrinsic", "call: oracle.price", "call: collateral.transfer", "storage writes", "events")


def measure() -> tuple[dict, dict, dict]:
    owner, keeper, lp, holder, other, signer = accounts.test_accounts[:6]
    system = deploy_mock_system(owner, leverages=(1,))
    pool, feed, usdc = next(iter(system.pools.values())), system.feed, system.collateral
    vault = owner.deploy(project.BenchVault, usdc)
    usdc.mint(keeper, USDC, sender=keeper)  # a keeper that has earned bounties before
    for account in (lp, holder, other):
        usdc.mint(account, 10**12, sender=account)
        usdc.approve(pool, 2**256 - 1, sender=account)
        usdc.approve(vault, 2**256 - 1, sender=account)
    far = chain.blocks.head.timestamp + 10**7
    ours, receipts = {}, {}
    ours["lp_deposit (first)"] = pool.lp_deposit(100_000 * USDC, 0, lp, far, sender=lp).gas_used
    ours["lp_deposit (repeat)"] = pool.lp_deposit(1_000 * USDC, 0, lp, far, sender=lp).gas_used
    ours["mint (first, new holder)"] = pool.mint(1_000 * USDC, 0, holder, far, sender=holder).gas_used
    receipts["mint (repeat)"] = pool.mint(1_000 * USDC, 0, holder, far, sender=holder)
    ours["mint (repeat)"] = receipts["mint (repeat)"].gas_used
    # A holder who approves nothing: one transaction with a permit, against approve + mint.
    usdc.mint(signer, 10**12, sender=signer)
    for _ in range(2):  # measure the second: the first also starts the signer's nonce
        v, r, s = sign_permit(usdc, signer, pool, 1_000 * USDC, far)
        gas = pool.mint_with_permit(1_000 * USDC, 0, signer, far, v, r, s, sender=signer).gas_used
    ours["mint_with_permit (repeat, no approval)"] = gas
    ours["approve + mint (repeat)"] = (
        usdc.approve(pool, 1_000 * USDC, sender=signer).gas_used
        + pool.mint(1_000 * USDC, 0, signer, far, sender=signer).gas_used
    )
    receipts["redeem (partial)"] = pool.redeem(10**20, 0, holder, far, sender=holder)
    ours["redeem (partial)"] = receipts["redeem (partial)"].gas_used
    pool.transfer(other, 10**18, sender=holder)  # the receiver now holds some, as the anchor's does
    ours["transfer (inverse token)"] = pool.transfer(other, 10**18, sender=holder).gas_used
    v, r, s = sign_permit(pool, holder, other, 10**18, far)
    ours["permit (inverse token)"] = pool.permit(holder, other, 10**18, far, v, r, s, sender=other).gas_used
    chain.mine(deltatime=86_400)
    feed.set_answer(2_000 * 10**8, sender=owner)
    call = {"from": keeper.address, "to": pool.address, "data": pool.checkUpkeep.encode_input(b"")}
    ours["checkUpkeep (call)"] = chain.provider.web3.eth.estimate_gas(call)
    receipts["rebalance (time)"] = pool.rebalance(sender=keeper)
    ours["rebalance (time)"] = receipts["rebalance (time)"].gas_used
    feed.set_answer(1_600 * 10**8, sender=owner)
    ours["rebalance (threshold)"] = pool.rebalance(sender=keeper).gas_used
    ours["lp_withdraw"] = pool.lp_withdraw(10**20, 0, lp, far, sender=lp).gas_used
    ours["redeem (full)"] = pool.redeem(pool.balanceOf(holder), 0, holder, far, sender=holder).gas_used

    names, selectors = call_labels(
        {"oracle": system.oracle, "collateral": usdc, "lp_token": project.LpToken.at(pool.lp_token())}
    )
    web3 = chain.provider.web3
    parts = {name: breakdown(web3, receipts[name].txn_hash, names, selectors) for name in TRACED}

    anchors = {}
    anchors["snekmate ERC-20 transfer"] = usdc.transfer(other, USDC, sender=holder).gas_used
    vault.deposit(1_000 * USDC, lp, sender=lp)
    anchors["snekmate ERC-4626 deposit"] = vault.deposit(1_000 * USDC, holder, sender=holder).gas_used
    anchors["snekmate ERC-4626 redeem"] = vault.redeem(
        vault.balanceOf(holder) // 2, holder, holder, sender=holder
    ).gas_used
    return ours, anchors, parts


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


def parts_table(parts: dict) -> str:
    """Each traced operation split into its parts, with the unavoidable ones summed
    into a lower bound."""
    names = list(parts)
    rows: dict[str, list[str]] = {}
    for column, name in enumerate(names):
        for part, gas, count in parts[name].rows():
            cell = f"{gas:,}" + (f" ({count})" if count > 1 else "")
            rows.setdefault(part, [""] * len(names))[column] = cell if gas else ""
    lines = ["| part | " + " | ".join(names) + " |", "| --- |" + " ---: |" * len(names)]
    for part, cells in rows.items():
        mark = "**" if part.startswith(UNAVOIDABLE) else ""
        lines.append(f"| {mark}{part}{mark} | " + " | ".join(cells) + " |")
    totals = [parts[name].gas_used for name in names]
    bounds = [sum(gas for part, gas, _ in parts[name].rows() if part.startswith(UNAVOIDABLE)) for name in names]
    lines.append("| total (receipt) | " + " | ".join(f"{gas:,}" for gas in totals) + " |")
    lines.append("| **lower bound** (bold rows) | " + " | ".join(f"{gas:,}" for gas in bounds) + " |")
    lines.append(
        "| above the bound | "
        + " | ".join(f"{t - b:,} ({(t - b) / t:.0%})" for t, b in zip(totals, bounds, strict=True))
        + " |"
    )
    return "\n".join(lines)


@click.command(cls=ConnectedProviderCommand)
@click.option("--output", default="BENCHMARKS.md", show_default=True)
def cli(output):
    """Measure gas from receipts and write the table."""
    ours, anchors, parts = measure()
    text = table(ours, anchors)
    split = parts_table(parts)
    click.echo(text + "\n\n" + split)
    Path(output).write_text(
        "# Gas benchmark\n\n"
        "Regenerated by `make bench`: gas from real receipts on a local Anvil (6-decimal mock USDC,\n"
        "-1x market, defaults of SPEC 6), each operation next to its nearest anchor measured in the same run.\n"
        "`checkUpkeep` is a call: its figure is the gas estimate.\n\n" + text + "\n\n"
        "## Where the gas goes\n\n"
        "Split from the node's opcode trace (`inverse/gas.py`): the pool's own storage reads and writes,\n"
        "events and lock by opcode; each external call by all the gas it took (access, the callee's\n"
        "execution); intrinsic gas and the refund from the receipt. The bold rows are what any design\n"
        "pays: the transaction, the oracle read, the collateral transfer, the state writes and the events.\n"
        "The oracle here reads the mock feed (five cold slots); a real Chainlink proxy costs somewhat differently.\n\n"
        + split
        + "\n\n"
        "What is above the bound:\n\n"
        "* Cold reads. The pool keeps what one operation reads together in shared words (ledger: total\n"
        "  assets and reference price; settings: flags, fees, backing, bounty; schedule: last rebalance,\n"
        "  interval, threshold, management fee), so a mint reads five slots: the settings, the ledger,\n"
        "  the reference NAV, the token supply and the receiver's balance. The last three of those are\n"
        "  also written, and a write to a slot not yet read would pay the same 2,100 cold surcharge, so\n"
        "  only the settings and reference NAV reads are really extra. The reference NAV keeps a word\n"
        "  of its own because repeated gains can grow it past any narrower field.\n"
        "* The fee-on-transfer check (SPEC 7): `balanceOf` before and after `transferFrom`. Most of the\n"
        "  first call's cost is the cold access to the token that `transferFrom` would otherwise pay.\n"
        "* Computation: calldata decoding, checked arithmetic of the NAV, fee and backing rule.\n"
    )
