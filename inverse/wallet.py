"""What a holder or LP does, as the CLI and the demo both do it: preview, bound the
slippage, approve only what is missing, send."""

from __future__ import annotations

from ape import Contract, chain
from eth_account import Account

from .deploy import _ERC20_ABI

# Default slippage bound on previews: 0.5%.
DEFAULT_SLIPPAGE_BPS = 50
# Default time a signed transaction stays valid.
DEFAULT_DEADLINE_SECONDS = 20 * 60

_ALLOWANCE_ABI = _ERC20_ABI + [
    {
        "type": "function",
        "name": "allowance",
        "stateMutability": "view",
        "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}],
        "outputs": [{"name": "", "type": "uint256"}],
    },
    {
        "type": "function",
        "name": "approve",
        "stateMutability": "nonpayable",
        "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}],
        "outputs": [],
    },
]


def with_slippage(preview: int, slippage_bps: int) -> int:
    return preview * (10_000 - slippage_bps) // 10_000


def deadline(seconds: int = DEFAULT_DEADLINE_SECONDS) -> int:
    return chain.blocks.head.timestamp + seconds


def ensure_allowance(pool, account, assets: int) -> None:
    """Approve the pool for `assets` if the current allowance is short (the ABI
    without a return value also fits USDT-style tokens)."""
    token = Contract(pool.collateral(), abi=_ALLOWANCE_ABI)
    if token.allowance(account, pool) < assets:
        token.approve(pool, assets, sender=account)


def mint(pool, account, assets: int, slippage_bps: int = DEFAULT_SLIPPAGE_BPS, receiver=None):
    ensure_allowance(pool, account, assets)
    min_out = with_slippage(pool.preview_mint(assets), slippage_bps)
    return pool.mint(assets, min_out, receiver or account, deadline(), sender=account)


def redeem(pool, account, shares: int, slippage_bps: int = DEFAULT_SLIPPAGE_BPS, receiver=None):
    min_out = with_slippage(pool.preview_redeem(shares), slippage_bps)
    return pool.redeem(shares, min_out, receiver or account, deadline(), sender=account)


def lp_deposit(pool, account, assets: int, slippage_bps: int = DEFAULT_SLIPPAGE_BPS, receiver=None):
    ensure_allowance(pool, account, assets)
    min_out = with_slippage(pool.preview_lp_deposit(assets), slippage_bps)
    return pool.lp_deposit(assets, min_out, receiver or account, deadline(), sender=account)


def lp_withdraw(pool, account, lp_shares: int, slippage_bps: int = DEFAULT_SLIPPAGE_BPS, receiver=None):
    min_out = with_slippage(pool.preview_lp_withdraw(lp_shares), slippage_bps)
    return pool.lp_withdraw(lp_shares, min_out, receiver or account, deadline(), sender=account)


def sign_permit(token, owner, spender, value: int, deadline: int) -> tuple[int, bytes, bytes]:
    """EIP-2612 signature (v, r, s) by a local key (test accounts) for `token.permit`."""
    typed = {
        "types": {
            "EIP712Domain": [
                {"name": name, "type": kind}
                for name, kind in (
                    ("name", "string"),
                    ("version", "string"),
                    ("chainId", "uint256"),
                    ("verifyingContract", "address"),
                )
            ],
            "Permit": [
                {"name": name, "type": kind}
                for name, kind in (
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
