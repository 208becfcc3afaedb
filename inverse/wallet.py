"""What a holder or LP does, as the CLI and the demo both do it: preview, bound the
slippage, pay by permit where the collateral takes one (else approve only what is
missing), send."""

from __future__ import annotations

import click
from ape import chain
from eip712.messages import EIP712Domain, EIP712Message
from eth_pydantic_types import abi

from .deploy import _ERC20_ABI, ZERO_ADDRESS, partial_contract

# Default slippage bound on previews: 0.5%.
DEFAULT_SLIPPAGE_BPS = 50
# Default time a signed transaction stays valid.
DEFAULT_DEADLINE_SECONDS = 20 * 60


def _view_fn(name: str, inputs: list, output: str) -> dict:
    return {
        "type": "function",
        "name": name,
        "stateMutability": "view",
        "inputs": [{"name": f"arg{i}", "type": kind} for i, kind in enumerate(inputs)],
        "outputs": [{"name": "", "type": output}],
    }


_ALLOWANCE_ABI = _ERC20_ABI + [
    _view_fn("allowance", ["address", "address"], "uint256"),
    {
        # No return value in the ABI: it also fits USDT-style tokens.
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [],
    },
]

# What a wallet needs of an EIP-2612 token.
PERMIT_ABI = [
    _view_fn("name", [], "string"),
    _view_fn("version", [], "string"),
    _view_fn("nonces", ["address"], "uint256"),
    _view_fn("DOMAIN_SEPARATOR", [], "bytes32"),
    {
        "type": "function",
        "name": "eip712Domain",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": name, "type": kind}
            for name, kind in (
                ("fields", "bytes1"),
                ("name", "string"),
                ("version", "string"),
                ("chainId", "uint256"),
                ("verifyingContract", "address"),
                ("salt", "bytes32"),
                ("extensions", "uint256[]"),
            )
        ],
    },
]


def with_slippage(preview: int, slippage_bps: int) -> int:
    return preview * (10_000 - slippage_bps) // 10_000


def deadline(seconds: int = DEFAULT_DEADLINE_SECONDS) -> int:
    return chain.blocks.head.timestamp + seconds


def how_to_pay(pool, account, assets: int) -> str:
    """How `mint` and `lp_deposit` get the pool its collateral: "allowance" (already
    approved), "permit" (a signature, no extra transaction) or "approve" (an extra
    transaction first, for collateral without EIP-2612)."""
    return _payment(pool.collateral(), pool, account, assets)[0]


def _payment(collateral: str, pool, account, assets: int) -> tuple[str, EIP712Domain | None]:
    """`how_to_pay`, with the permit domain when it is "permit"."""
    if partial_contract(collateral, _ALLOWANCE_ABI).allowance(account, pool) >= assets:
        return "allowance", None
    domain = permit_domain(collateral)
    return ("permit", domain) if domain else ("approve", None)


def mint(pool, account, assets: int, slippage_bps: int = DEFAULT_SLIPPAGE_BPS, receiver=None):
    min_out = with_slippage(pool.preview_mint(assets), slippage_bps)
    return _pay_in(pool.mint, pool.mint_with_permit, pool, account, assets, min_out, receiver)


def lp_deposit(pool, account, assets: int, slippage_bps: int = DEFAULT_SLIPPAGE_BPS, receiver=None):
    min_out = with_slippage(pool.preview_lp_deposit(assets), slippage_bps)
    return _pay_in(pool.lp_deposit, pool.lp_deposit_with_permit, pool, account, assets, min_out, receiver)


def _pay_in(plain, with_permit, pool, account, assets: int, min_out: int, receiver):
    """Sends a mint or LP deposit, with a permit signature when one is needed and
    the collateral takes it, else after approving what is missing."""
    until = deadline()
    receiver = receiver or account
    collateral = pool.collateral()
    way, domain = _payment(collateral, pool, account, assets)
    if way == "permit":
        token = partial_contract(collateral, PERMIT_ABI)
        v, r, s = sign_permit(token, account, pool, assets, until, domain)
        return with_permit(assets, min_out, receiver, until, v, r, s, sender=account)
    if way == "approve":
        partial_contract(collateral, _ALLOWANCE_ABI).approve(pool, assets, sender=account)
    return plain(assets, min_out, receiver, until, sender=account)


def redeem(pool, account, shares: int, slippage_bps: int = DEFAULT_SLIPPAGE_BPS, receiver=None):
    min_out = with_slippage(pool.preview_redeem(shares), slippage_bps)
    return pool.redeem(shares, min_out, receiver or account, deadline(), sender=account)


def lp_withdraw(pool, account, lp_shares: int, slippage_bps: int = DEFAULT_SLIPPAGE_BPS, receiver=None):
    min_out = with_slippage(pool.preview_lp_withdraw(lp_shares), slippage_bps)
    return pool.lp_withdraw(lp_shares, min_out, receiver or account, deadline(), sender=account)


class Permit(EIP712Message):
    """EIP-2612 `Permit`: what the owner signs (the domain is the token's own)."""

    owner: abi.address
    spender: abi.address
    value: abi.uint256
    nonce: abi.uint256
    deadline: abi.uint256


def permit_domain(token_address: str) -> EIP712Domain | None:
    """The token's EIP-712 domain if it takes EIP-2612 permits, else None. The name
    and version come from ERC-5267 `eip712Domain()` when the token has it, else
    from `name()` and `version()` (or "1"); either way they must reproduce the
    token's own `DOMAIN_SEPARATOR()`, so a signature is never made for a domain
    the token would not accept."""
    token = partial_contract(token_address, PERMIT_ABI)
    separator = _view(token.DOMAIN_SEPARATOR)
    if separator is None or _view(token.nonces, ZERO_ADDRESS) is None:
        return None
    declared = _view(token.eip712Domain)
    if declared is not None:
        name, version = declared[1], declared[2]
    else:
        name, version = _view(token.name), _view(token.version) or "1"
    domain = EIP712Domain(name=name, version=version, chainId=chain.chain_id, verifyingContract=token_address)
    return domain if bytes(domain.separator) == bytes(separator) else None


def sign_permit(
    token, owner, spender, value: int, deadline: int, domain: EIP712Domain | None = None
) -> tuple[int, bytes, bytes]:
    """EIP-2612 signature (v, r, s) of `owner` letting `spender` take `value` of
    `token` until `deadline`, in the token's `domain` (looked up if not given). Any
    ape account signs it (a keyfile account shows the domain and fields and asks first)."""
    domain = domain or permit_domain(token.address)
    if domain is None:
        raise ValueError(f"{token.address} takes no EIP-2612 permit")
    permit = Permit(
        owner=owner.address,
        spender=getattr(spender, "address", spender),
        value=value,
        nonce=token.nonces(owner),
        deadline=deadline,
        eip712_domain=domain,
    )
    signature = owner.sign_message(permit)
    if signature is None:
        raise click.Abort("permit not signed")
    # r and s are integers as bytes: a short one is missing leading zeros.
    return signature.v, bytes(signature.r).rjust(32, b"\0"), bytes(signature.s).rjust(32, b"\0")


def _view(method, *args):
    """A view's answer, or None when the contract has no such function."""
    try:
        return method(*args)
    except Exception:  # a revert, no code, an empty or undecodable answer: all mean "not there"
        return None
