import ape


def test_mint_and_burn__by_anyone_but_the_pool__revert(lp_token, stranger, owner):
    with ape.reverts("lp: caller is not the pool"):
        lp_token.mint(stranger, 1, sender=stranger)
    with ape.reverts("lp: caller is not the pool"):
        lp_token.burn(stranger, 0, sender=owner)


def test_transfer__of_lp_shares__moves_the_claim(seeded, pool, lp_token, lp, stranger, chain):
    lp_token.transfer(stranger, 10**18, sender=lp)
    assert lp_token.balanceOf(stranger) == 10**18
    assert pool.lp_withdraw(10**18, 0, stranger, chain.pending_timestamp + 60, sender=stranger).return_value > 0
    assert lp_token.balanceOf(stranger) == 0


def test_abi__has_no_open_mint_or_minter_role(lp_token):
    names = {abi.name for abi in lp_token.contract_type.abi if hasattr(abi, "name")}
    assert {"set_minter", "is_minter", "burn_from", "renounce_ownership", "transfer_ownership"}.isdisjoint(names)
    assert {"permit", "nonces", "DOMAIN_SEPARATOR", "pool"} <= names
