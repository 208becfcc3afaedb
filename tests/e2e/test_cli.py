"""The wallet CLI, run as a user runs it (`ape run inverse ...`), against a real node
and a deployment made by the real deploy code. Orders settle at the next round:
the test publishes rounds on the mock feed and settles as a keeper would, while
the CLI waits, or the CLI settles itself (`settle`, `--settle`)."""

import subprocess
import sys
import time
from pathlib import Path

import pytest
from ape import chain, networks

from inverse import wallet
from inverse.deploy import deploy_plan, lens_of, load_config, plan_deployment, write_manifest
from inverse.orders import pending_orders, settlement_batch
from inverse.processes import AnvilNode
from inverse.status import fmt_wad

ROOT = Path(__file__).resolve().parents[2]
# The tests share one world (a module fixture): one worker runs them all, in order.
pytestmark = pytest.mark.xdist_group("cli")
USDC = 10**6
PRICE = 2_000 * 10**8


@pytest.fixture(scope="module")
def world(tmp_path_factory, accounts):
    workdir = tmp_path_factory.mktemp("cli")
    node = AnvilNode(workdir)
    node.start()
    try:
        with networks.parse_network_choice(node.network_choice):
            owner, keeper, user = accounts[0], accounts[2], accounts[4]
            manifest = deploy_plan(
                owner, plan_deployment(load_config(ROOT / "deployments/config.yaml", "local"), True), "ethereum:local"
            )
            path = workdir / "manifest.json"
            write_manifest(manifest, path)
            from ape import project

            project.MockCollateral.at(manifest["contracts"]["collateral"]).mint(user, 1_000_000 * USDC, sender=user)
            pool = project.InversePool.at(manifest["markets"][0]["pool"])
            feed = project.MockAggregator.at(manifest["contracts"]["feed"])

            def command(*args, account="TEST::4"):
                account_args = ["--account", account] if account else []
                return [str(Path(sys.executable).parent / "ape"), "run", "inverse", *args] + [
                    "--network",
                    node.network_choice,
                    *account_args,
                    "--manifest",
                    str(path),
                ]

            def run(*args, stdin=None, account="TEST::4"):
                return subprocess.run(
                    command(*args, account=account), cwd=ROOT, capture_output=True, text=True, input=stdin, timeout=300
                )

            def start(*args):
                """The CLI in the background (it waits for its order's settlement)."""
                return subprocess.Popen(
                    command(*args), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
                )

            def publish_round_after(not_before, answer=PRICE):
                """Moves the clock to the order's earliest round time and publishes a round."""
                now = chain.blocks.head.timestamp
                chain.provider.make_request("evm_setNextBlockTimestamp", [max(not_before, now + 1)])
                feed.set_answer(answer, sender=owner, gas=200_000)

            def wait_for_request(book, count):
                deadline = time.monotonic() + 120
                while book.pending_orders() < count:
                    assert time.monotonic() < deadline, "the CLI did not request"
                    time.sleep(0.5)
                return book.order(book.next_order() + count - 1)

            def keeper_settles(book):
                batch, round_ids = settlement_batch(book, feed, chain.blocks.head.timestamp, manifest["block"])
                assert batch
                return book.settle(batch, round_ids, sender=keeper)

            yield {
                "run": run,
                "start": start,
                "manifest": manifest,
                "user": user,
                "keeper": keeper,
                "project": project,
                "pool": pool,
                "book": project.OrderBook.at(pool.order_book()),
                "collateral": project.MockCollateral.at(manifest["contracts"]["collateral"]),
                "publish_round_after": publish_round_after,
                "wait_for_request": wait_for_request,
                "keeper_settles": keeper_settles,
            }
    finally:
        node.stop()


def _clean(out: str, err: str) -> str:
    """What a user reads: no traceback, no call trace of a routine revert."""
    assert "Traceback" not in out + err and "reverted without message" not in out + err, out + err
    return out


def _ok(result) -> str:
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    return _clean(result.stdout, result.stderr)


def _finish(process) -> str:
    out, err = process.communicate(timeout=180)
    assert process.returncode == 0, out[-2000:] + err[-2000:]
    return _clean(out, err)


def test_cli__every_order_kind_requests_waits_and_shows_what_it_got(world):
    run, user, pool, book, collateral = (world[k] for k in ("run", "user", "pool", "book", "collateral"))
    lp_token = world["project"].LpToken.at(pool.lp_token())

    # LP deposit without waiting, then `settle` by the user once its round is out.
    out = _ok(run("lp-deposit", "50000", "--yes", "--no-wait"))
    assert "LP deposit request: pay 50,000.00 USDC + 0.10 USDC settle fee" in out
    assert "settles at the NEXT oracle price" in out and "within about 1 h 2 min" in out
    assert "by a permit signature" in out
    assert "Order 1 requested" in out and "Not waiting" in out
    assert book.pending_orders() == 1 and lp_token.balanceOf(user) == 0
    # The permit was for the order book, for the amount plus the settle fee, and is used up.
    assert collateral.allowance(user, book) == 0 and collateral.nonces(user) == 1
    assert collateral.balanceOf(user) == (1_000_000 - 50_000) * USDC - USDC // 10

    out = _ok(run("settle", "--yes"))
    assert "Nothing is due yet: 1 order(s) pending; the oldest (#1)" in out
    out = _ok(run("orders"))
    assert "#1 lp-deposit 50,000.00 USDC: pending" in out and "void if no round by" in out

    world["publish_round_after"](book.order(1).not_before)
    out = _ok(run("settle", "--yes"))
    assert "Settled 1 order(s)" in out and "(1 filled)" in out and "earned 0.10 USDC in settle fees" in out
    assert lp_token.balanceOf(user) == 50_000 * 10**18  # first deposit: one share per unit at LP value 0
    out = _ok(run("orders"))
    assert "#1 lp-deposit 50,000.00 USDC: filled, at round" in out and "got 50,000.000000 LP shares" in out

    # A mint that waits while a keeper settles it.
    cli = world["start"]("mint", "1000", "--yes")
    order = world["wait_for_request"](book, 1)
    world["publish_round_after"](order.not_before)
    world["keeper_settles"](book)
    out = _finish(cli)
    symbol, tokens = pool.symbol(), pool.balanceOf(user)
    # 999 after the 0.1% mint fee, at a NAV a few minutes of management fee below 1.
    assert 999 * 10**18 < tokens < 999_001 * 10**15
    assert f"about {fmt_wad(tokens, 3)}" in out and "at least 994.00" in out  # 0.5% slippage bound
    assert "Order 2: filled, at round" in out and "price 2,000.00, NAV 1.000000" in out  # 0.9999998
    assert f"filled 1,000.00 USDC, got {fmt_wad(tokens, 6)} {symbol}; settle fee 0.10 USDC" in out

    out = _ok(run("status"))
    assert f"your tokens      {fmt_wad(tokens, 4)}" in out
    assert "orders           0 pending, 0.00 collateral in escrow, 0.00 claimable" in out
    assert "order terms      settle fee 0.10, min order 10.00, min delay 2 min, void after 1 h 6 min more" in out

    # A redeem that waits and settles itself (`--settle`) once the round is out, at a lower price.
    cli = world["start"]("redeem", "all", "--yes", "--settle")
    order = world["wait_for_request"](book, 1)
    world["publish_round_after"](order.not_before, PRICE * 99 // 100)
    out = _finish(cli)
    assert f"Redeem request: {fmt_wad(tokens, 6)} {symbol}" in out
    assert "Order 3: filled, at round" in out and "price 1,980.00, NAV 1.010000" in out
    # About 999 tokens at NAV 1.01, less the 0.1% redeem fee and the 0.10 settle fee.
    assert f"filled {fmt_wad(tokens, 6)} {symbol}, got 1,007.88 USDC" in out
    assert pool.balanceOf(user) == 0

    # An LP withdrawal requested without waiting, then settled by the user.
    _ok(run("lp-withdraw", "all", "--yes", "--no-wait"))
    world["publish_round_after"](book.order(4).not_before, PRICE * 99 // 100)
    out = _ok(run("settle", "--yes"))
    assert "Settled 1 order(s)" in out
    assert lp_token.balanceOf(user) == 0
    out = _ok(run("orders"))
    assert "#4 lp-withdraw 50,000.000000 LP shares: filled" in out

    out = _ok(run("claim"))
    assert f"Nothing to claim: the pool owes {user.address} nothing." in out


def test_cli__read_only_commands__need_no_account_and_print_only_their_own_words(world):
    """`status` and `orders` without --account show the market (and every order in
    it); a command that sends says how to name an account instead of prompting; no
    library warning, connection line or receipt in wei on any of them."""
    status = world["run"]("status", account=None)
    out = _ok(status)
    assert "oracle price" in out and "next rebalance   in " in out and "your tokens" not in out
    out = _ok(world["run"]("orders", account=None))
    assert out.startswith("Orders in the market on ") and "#1 lp-deposit 50,000.00 USDC by " in out
    refused = world["run"]("mint", "100", "--yes", account=None)
    assert refused.returncode != 0 and "pass --account ALIAS" in refused.stderr
    for result in (status, world["run"]("claim")):
        assert not any(word in result.stdout + result.stderr for word in ("Warning", "INFO", "total fees paid"))


def test_cli__asks_before_sending_and_a_no_sends_nothing(world):
    run, project, manifest, user = world["run"], world["project"], world["manifest"], world["user"]
    book = project.OrderBook.at(manifest["markets"][1]["order_book"])
    result = run("lp-deposit", "10", "--market", "3", stdin="n\n")
    assert "Send?" in result.stdout and "NEXT oracle price" in result.stdout
    assert result.returncode != 0
    # A mint the LPs cannot back now is not refused (deposits ahead may make room) but warned of.
    result = run("mint", "100", "--market", "3", stdin="n\n")
    assert "Warning: only 0.00 USDC fits the LPs' backing now" in result.stdout and "Send?" in result.stdout
    assert result.returncode != 0
    assert book.pending_orders() == 0
    assert world["collateral"].allowance(user, book) == 0


@pytest.mark.parametrize(
    "args, says",
    [
        (("mint", "lots"), "'lots' is not an amount"),
        (("mint", "0"), "the amount must be positive"),
        (("mint", "5"), "the smallest order in this market is 10.00 USDC"),
        (("mint", "2000000"), "this needs 2,000,000.10 USDC (the amount plus the settle fee)"),
        (("mint", "100", "--slippage", "150"), "150.0 is not in the range 0<=x<=100"),
        (("redeem", "5"), "you hold 0.000000 iETH1"),
        (("lp-withdraw", "all"), "you have no LP shares"),
        (("status", "--market", "7"), "no -7x market in"),
        (("status", "--pool", "0x000000000000000000000000000000000000dEaD"), "no contract at 0x0000"),
        (("rebalance", "--yes"), "move), and the next scheduled rebalance is at"),
    ],
)
def test_cli__bad_input__says_what_is_wrong_and_sends_nothing(world, args, says):
    nonce = world["user"].nonce
    result = world["run"](*args, "--yes") if args[0] in ("mint", "redeem", "lp-withdraw") else world["run"](*args)
    assert result.returncode != 0
    assert says in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert world["user"].nonce == nonce


@pytest.mark.parametrize(
    "preview, bps, bound",
    [(10_000, 50, 9_950), (199, 50, 198), (1, 50, 1), (1, 10_000, 1), (5, 9_999, 1), (0, 50, 0), (0, 0, 0)],
)
def test_with_slippage__never_zero_while_the_preview_is_above_zero(preview, bps, bound):
    assert wallet.with_slippage(preview, bps) == bound


def test_cli__slippage_bound__never_zero_for_a_nonzero_preview_and_a_zero_preview_says_so(world):
    """`--slippage 100` still sends a bound of 1 unit; a redeem whose preview is 0
    (a dust balance worth less than the settle fee) is refused, and even when the
    user insists on a bound of 0 the order book refuses it and nothing moves."""
    run, user, pool, book, collateral = (world[k] for k in ("run", "user", "pool", "book", "collateral"))
    start_block = world["manifest"]["block"]
    backer = world["keeper"]  # an LP, who also buys the user some tokens
    collateral.mint(backer, 100_000 * USDC, sender=backer)
    collateral.approve(book, 100_000 * USDC, sender=backer)
    deadline = chain.blocks.head.timestamp + 3_600
    book.request_lp_deposit(50_000 * USDC, 0, backer, deadline, sender=backer)
    book.request_mint(1_000 * USDC, 0, user, deadline, sender=backer)
    world["publish_round_after"](pending_orders(book, start_block)[-1].not_before)
    world["keeper_settles"](book)
    assert pool.balanceOf(user) > 900 * 10**18

    out = _ok(run("redeem", "20", "--slippage", "100", "--yes", "--no-wait"))
    assert "at least 0.000001 USDC at settlement" in out
    assert "bound is 0" not in out
    (order,) = pending_orders(book, start_block)
    assert order.requester == user.address and order.min_out == 1

    # What is left: a dust balance, worth less than the 0.10 settle fee.
    pool.transfer(backer, pool.balanceOf(user) - 10**15, sender=user)
    assert lens_of(pool).preview_redeem(10**15) == 0
    nonce = user.nonce
    result = run("redeem", "all", "--yes", "--no-wait")
    assert result.returncode != 0
    assert "the preview is 0 USDC" in result.stdout + result.stderr
    assert "--accept-zero-bound" in result.stdout + result.stderr
    _clean(result.stdout, result.stderr)
    assert user.nonce == nonce and len(pending_orders(book, start_block)) == 1

    result = run("redeem", "all", "--yes", "--no-wait", "--accept-zero-bound")
    assert result.returncode != 0
    assert "the preview is 0, so the slippage bound is 0" in result.stdout
    assert "orders: worth less than the settle fee: the exit is worth less than" in result.stdout + result.stderr
    assert len(pending_orders(book, start_block)) == 1 and pool.balanceOf(user) == 10**15


def test_cli__rebalance__settles_the_whole_due_backlog_first_then_rebalances(world):
    """More orders due than one batch takes, ahead of a move past the -1x threshold:
    `rebalance` settles them all (two batches), then rebalances; it no longer
    stops after one batch saying the pool is not due."""
    run, pool, book = world["run"], world["pool"], world["book"]
    backer, start_block = world["keeper"], world["manifest"]["block"]
    deadline = chain.blocks.head.timestamp + 3_600
    for _ in range(21):
        book.request_mint(10 * USDC, 0, backer, deadline, sender=backer)
    waiting = pending_orders(book, start_block)
    assert len(waiting) > 20
    world["publish_round_after"](waiting[-1].not_before, PRICE * 80 // 100)
    out = _ok(run("rebalance", "--yes"))
    assert "Settled 20 order(s)" in out and f"Settled {len(waiting) - 20} order(s)" in out
    assert "Done in block" in out and "not due" not in out
    assert book.pending_orders() == 0 and pool.reference_price() == PRICE * 80 // 100 * 10**10
