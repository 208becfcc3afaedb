"""The web page in a real browser: Debian's chromium driven by playwright, against the
playground that `make app` starts (`ape run playground`: its own Anvil, the -1x and -3x
pull markets deployed and seeded, the local price service, the real keeper bot, a price
move every 2 s, the page); a signal to it (SIGUSR1) stops it bringing each price to Pyth's
contract, so the price on-chain goes stale as on a testnet where nobody brings one.

The browser has a test wallet (`wallet.js`): an EIP-1193 provider announced by EIP-6963
that forwards every request to the playground's Anvil, whose dev accounts are unlocked,
so Anvil signs the transactions and the permits. Each test opens the page in a fresh
browser context, connects the wallet as a person would (its button) and checks what
the page shows against the chain. The mint, refusal and phone tests rewrite the
README's screenshots, docs/app.png, docs/app-refused.png and docs/app-phone.png."""

import json
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pytest
import requests
from ape import chain, networks, project
from ape.exceptions import ContractLogicError
from playwright.sync_api import expect, sync_playwright

from inverse.app import cli_module
from inverse.constants import ORDER_MINT, ORDER_SETTLED, OUTCOME_FILLED, OUTCOME_REFUNDED

ROOT = Path(__file__).resolve().parents[2]
# The tests share one world (a module fixture): one worker runs them all, in order.
pytestmark = pytest.mark.xdist_group("browser")
WALLET_JS = (Path(__file__).parent / "wallet.js").read_text()
USDC = 10**6
SETTLES_WITHIN = 60_000  # ms: the price moves every 2 s and the keeper acts in its block
# What the page shows follows the chain: under a loaded machine a price move (and with it a
# fresh preview or balance) can come seconds late, so every expectation may wait that long.
expect.set_options(timeout=20_000)
# Each playground round is an hour of ETH (about 0.7%, 2% on a -3x NAV): a bound wide enough
# that the orders here fill, so each test's outcome is known.
SLIPPAGE = "10"
# Methods that sign or send: a wallet that is refused must never be asked for one.
SIGNING = {"eth_sendTransaction", "eth_signTypedData_v4", "personal_sign", "eth_sign"}


@pytest.fixture(scope="module")
def playground(accounts):
    """`ape run playground` as `make app` runs it; its page URL, node URL and markets."""
    command = [str(Path(sys.executable).parent / "ape"), "run", "playground", "--round-seconds", "2"]
    command += ["--history-days", "5", "--port", "0", "--node-port", "0"]  # five days as `make app`; any ports
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(iter(process.stdout.readline, "")), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 600  # a failsafe: under the whole suite's load the replay takes minutes
        while not any("Ctrl-C stops everything" in line for line in lines):
            assert process.poll() is None, "the playground exited:\n" + "".join(lines)[-4000:]
            assert time.monotonic() < deadline, "the playground did not come up:\n" + "".join(lines)[-4000:]
            time.sleep(0.2)
        output = "".join(lines)
        page_url = re.search(r"page\s+(http://\S+)", output).group(1)
        rpc = re.search(r"chain\s+(http://\S+)", output).group(1)
        config = requests.get(page_url + "config.json", timeout=10).json()
        with networks.parse_network_choice(f"ethereum:local:{rpc}"):
            yield {"url": page_url, "rpc": rpc, "output": output, "config": config, "process": process, "lines": lines}
    finally:
        process.terminate()  # the playground stops its keeper and Anvil
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def browser():
    executable = shutil.which("chromium")
    assert executable, "Debian's chromium is missing: `make test` installs it (apt-get install chromium)"
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable)
        yield browser
        browser.close()


def node_refusing(rpc: str, refusal):
    """A route handler for every request to the node at `rpc`: a JSON-RPC call for
    which `refusal(call)` gives an error (code, message) gets that error, as a
    node that behaves so would answer; every other call goes to the node."""

    def handle(route):
        if route.request.method != "POST":
            return route.continue_()
        body = json.loads(route.request.post_data)
        calls = body if isinstance(body, list) else [body]
        errors = [refusal(call) for call in calls]
        if not any(errors):
            return route.continue_()
        answers = [
            {"jsonrpc": "2.0", "id": call["id"], "error": {"code": error[0], "message": error[1]}}
            if error
            else requests.post(rpc, json=call, timeout=30).json()
            for call, error in zip(calls, errors, strict=True)
        ]
        answer = answers if isinstance(body, list) else answers[0]
        route.fulfill(status=200, headers={"access-control-allow-origin": "*"}, json=answer)

    return handle


def capped_logs(rpc: str, max_range: int, refused: list):
    """A node that, as a public RPC, refuses an eth_getLogs over more than
    `max_range` blocks (each refusal is added to `refused`)."""

    def head() -> int:
        answer = requests.post(rpc, json={"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber"}, timeout=30)
        return int(answer.json()["result"], 16)

    def refusal(call: dict):
        if call.get("method") != "eth_getLogs":
            return None
        query = call["params"][0]
        first, last = (
            int(query[k], 16) if str(query.get(k, "latest")).startswith("0x") else head()
            for k in ("fromBlock", "toBlock")
        )
        if last - first + 1 <= max_range:
            return None
        refused.append(query)
        return -32005, f"eth_getLogs is limited to a {max_range} block range"

    return node_refusing(rpc, refusal)


def refusing_state_overrides(rpc: str, refused: list):
    """A node that takes no state override in an eth_call (each refusal is added to `refused`)."""

    def refusal(call: dict):
        if call.get("method") != "eth_call" or len(call.get("params", [])) <= 2:
            return None
        refused.append(call)
        return -32602, "eth_call takes no state override here"

    return node_refusing(rpc, refusal)


def without_permit(rpc: str, token: str):
    """A node on which `token` has no EIP-2612 permit: its `DOMAIN_SEPARATOR()`
    reverts, as on a collateral that never had one."""
    selector = "0x3644e515"

    def refusal(call: dict):
        if call.get("method") != "eth_call":
            return None
        tx = call["params"][0]
        data = tx.get("data") or tx.get("input") or ""
        if str(tx.get("to", "")).lower() == token.lower() and data.startswith(selector):
            return 3, "execution reverted"
        return None

    return node_refusing(rpc, refusal)


@pytest.fixture
def open_page(browser, playground):
    """`open_page(account, chain_id=None, route=None, viewport=(1280, 900), price_service=None)`:
    the page with a test wallet for `account`, on `chain_id` (default the node's),
    connected with its button; `route` handles every request to the node (see
    `capped_logs`), `price_service` every request to the price service."""
    contexts, errors = [], []

    def open_(account, chain_id=None, route=None, viewport=(1280, 900), price_service=None):
        node_chain = playground["config"]["chain_id"]
        settings = {"rpc": playground["rpc"], "account": account.address, "chainId": chain_id or node_chain}
        settings["nodeChainId"] = node_chain
        context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
        if route:
            context.route(lambda url: url.startswith(playground["rpc"]), route)
        if price_service:
            context.route(lambda url: url.startswith(playground["config"]["hermes"]), price_service)
        context.add_init_script(f"window.__testWallet = {json.dumps(settings)};\n{WALLET_JS}")
        contexts.append(context)
        page = context.new_page()
        page.on("pageerror", lambda error: errors.append(str(error)))
        page.goto(playground["url"])
        # Found by EIP-6963 discovery, as a browser extension's wallet is.
        page.get_by_role("button", name="Connect Test Wallet").click()
        expect(page.locator("#account")).to_contain_text(f"Test Wallet: {account.address[:6]}")
        return page

    yield open_
    for context in contexts:
        context.close()
    assert not errors, errors


@pytest.fixture(scope="module")
def market(playground):
    """`market("3")`: the pool, book and collateral of the -3x market, from the page's manifest."""
    manifest = playground["config"]["manifest"]

    def get(leverage):
        entry = next(m for m in manifest["markets"] if m["leverage"] == leverage)
        pool = project.InversePool.at(entry["pool"])
        return pool, project.OrderBook.at(entry["order_book"]), project.MockCollateral.at(pool.collateral())

    return get


def while_price_is_fresh(view, timeout: float = 60):
    """A view that needs the price on-chain, read once the playground's price mover
    brought a fresh one: its chain moves an hour a round, so under load the price can
    be stale (over a minute of chain time) until the next move."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return view()
        except ContractLogicError as error:
            assert "stale price" in str(error) and time.monotonic() < deadline, error
            time.sleep(0.5)


def signal_playground(playground, sig, said: str) -> None:
    """Sends the playground `sig` and waits for it to say `said` (it acts between two moves)."""
    seen = sum(said in line for line in playground["lines"])
    playground["process"].send_signal(sig)
    deadline = time.monotonic() + 60
    while sum(said in line for line in playground["lines"]) == seen:
        assert time.monotonic() < deadline, (
            "the playground did not answer its signal:\n" + "".join(playground["lines"])[-2000:]
        )
        time.sleep(0.1)


@contextmanager
def price_held(playground):
    """The playground holds its price still (SIGUSR2): the chain's clock runs at the
    wall's and its price service keeps the last move's price, until the test brings
    another; a second signal moves it again."""
    signal_playground(playground, signal.SIGUSR2, "The price holds still")
    try:
        yield
    finally:
        signal_playground(playground, signal.SIGUSR2, "The price moves again")


@contextmanager
def price_left_stale(playground, pool):
    """The playground stops bringing each new price to Pyth's contract (SIGUSR1; it says
    so between two moves, when none is on the way), and the chain's clock moves past the
    oracle's max age: every view that needs a price on-chain refuses ('oracle: stale
    price'), as on a testnet where nobody brought one in the last minute. A second
    signal resumes the playground's pushes. Yields Pyth's stored price's publish time,
    which nothing changes meanwhile."""
    oracle = project.PythOracle.at(pool.oracle())
    pyth = project.MockPyth.at(oracle.pyth())
    lens = project.PoolLens.at(pool.lens())

    def toggle(said: str) -> None:
        signal_playground(playground, signal.SIGUSR1, said)

    toggle("no longer go to Pyth's contract")
    try:
        # A price the playground brought before the signal is stale a max age later; a keeper's proof
        # (it settles or rebalances) is a price on-chain too, until the next move an hour on.
        # Relative to the chain's clock, which the playground's moves may set meanwhile: they only move it further.
        chain.provider.make_request("evm_increaseTime", [oracle.max_age() + 1])
        chain.provider.make_request("evm_mine", [])
        deadline = time.monotonic() + 60
        while True:
            try:
                lens.max_mint()
            except ContractLogicError as error:
                assert "stale price" in str(error), error
                break
            assert time.monotonic() < deadline, "the price on-chain stayed fresh"
            time.sleep(0.2)
        yield pyth.getPriceUnsafe(oracle.price_id()).publishTime
    finally:
        toggle("goes to Pyth's contract again")


def money(units: int) -> str:
    """USDC as the page shows it: two decimals, half away from zero, thousands separated."""
    return f"{(Decimal(units) / USDC).quantize(Decimal('0.01'), ROUND_HALF_UP):,} USDC"


def signed_or_sent(page) -> set:
    return SIGNING & set(page.evaluate("window.__testWallet.log"))


def settlement(pool, order_id):
    head = chain.blocks.head.number
    return next(iter(pool.OrderSettled.range(0, head + 1, search_topics={"order_id": order_id})))


def expect_amount(locator, value: int, decimals: int, places: int, after: str = "", timeout: float = 10):
    """Waits until `locator` shows `value` (its first number after `after`), as shown
    rounded to `places`: within half a unit of the last place, and a float's width."""
    want = Decimal(value) / 10**decimals
    tolerance = Decimal(1).scaleb(-places) * Decimal("0.51")
    deadline = time.monotonic() + timeout
    while True:
        text = locator.inner_text()
        found = re.search(re.escape(after) + r"\D*?(\d[\d,]*\.\d+)", text)
        if found and abs(Decimal(found.group(1).replace(",", "")) - want) <= tolerance:
            return
        assert time.monotonic() < deadline, f"{text!r} does not show {want:.{places}f} after {after!r}"
        time.sleep(0.2)


def test_page__wallet_on_another_chain__is_refused_until_it_switches(open_page, market, accounts):
    user = accounts[6]
    pool, _, _ = market("1")
    page = open_page(user, chain_id=1)
    banner = page.locator("#banner")
    expect(banner).to_contain_text("Your wallet is on chain 1, and these markets are on chain 1337")
    section = page.locator('section[data-market="1"]')
    section.locator("input[name=amount]").fill("100")
    expect(section.locator(".preview")).to_contain_text("Pay 100.00 USDC + 0.10 USDC settle fee")
    request = section.get_by_role("button", name="Request mint")
    expect(request).to_be_disabled()
    expect(section.locator('[data-field="tokens"]')).to_have_text("—")  # nothing read through that wallet
    assert not signed_or_sent(page)

    page.get_by_role("button", name="Switch network").click()
    expect(banner).to_be_hidden()
    expect(section.locator('[data-field="cash"]')).to_have_text("0.00 USDC")
    # Now it would send, were there collateral: the page says what is missing instead.
    expect(section.locator(".preview")).to_contain_text("You have 0.00 USDC after the settle fee")
    page.locator("#faucet-button").click()
    expect(page.locator("#faucet-status")).to_contain_text("Done: 10,000 USDC in your wallet.")
    expect(section.locator('[data-field="cash"]')).to_have_text("10,000.00 USDC")
    section.locator("input[name=amount]").fill("100")
    expect(request).to_be_enabled()
    assert pool.balanceOf(user) == 0


def test_page__mint_by_permit__keeper_settles_it_and_the_new_balance_shows(open_page, market, playground, accounts):
    user = accounts[5]  # the account the playground funds and prints for a browser wallet
    assert f"{user.address} holds" in playground["output"] and user.private_key in playground["output"]
    pool, book, collateral = market("3")
    nonce, pending_before = collateral.nonces(user), book.next_order() + book.pending_orders()
    page = open_page(user)
    section = page.locator('section[data-market="3"]')
    tokens = section.locator('[data-field="tokens"]')
    expect(tokens).to_contain_text("0.0000 iETH3")
    expect(section.locator("input[name=slippage]")).to_have_value("2")  # the playground's default
    section.locator("input[name=slippage]").fill(SLIPPAGE)
    section.locator("input[name=amount]").fill("1000")
    preview = section.locator(".preview")
    expect(preview).to_contain_text("Pay 1,000.00 USDC + 0.10 USDC settle fee")
    expect(preview).to_contain_text("by a permit signature (you sign it next), no approval transaction")
    expect(preview).to_contain_text("at least")  # the slippage bound
    expect(preview).to_contain_text("It settles at the NEXT Pyth price")
    # The gist on one line, the rest one click away.
    gist = r"^Pay 1,000\.10 USDC, get about [\d,]+\.\d\d iETH3 \(at least [\d,]+\.\d\d iETH3\), at the next Pyth price"
    expect(preview).to_have_text(re.compile(gist), use_inner_text=True)
    expect(preview.get_by_text("Pay 1,000.00 USDC + 0.10 USDC settle fee")).to_be_hidden()
    preview.get_by_text("Details").click()
    expect(preview.get_by_text("Pay 1,000.00 USDC + 0.10 USDC settle fee")).to_be_visible()
    section.get_by_role("button", name="Request mint").click()

    done = section.locator(".progress.done")
    expect(done).to_contain_text(f"Order {pending_before}: filled, at the Pyth price published", timeout=SETTLES_WITHIN)
    # First in plain words: what it got, for what, at what price.
    plain = r"You received [\d,]+\.\d\d iETH3 for 1,000\.00 USDC at ETH [\d,]+\.\d\d\. "
    expect(done).to_contain_text(re.compile("^" + plain))
    settled = settlement(pool, pending_before)
    assert settled.outcome == OUTCOME_FILLED and settled.settler != user.address  # the keeper bot settled it
    assert book.order(pending_before).status == ORDER_SETTLED
    minted = pool.balanceOf(user)
    assert minted == settled.out > 0
    expect_amount(done, minted, 18, 6, after="got")
    expect_amount(tokens, minted, 18, 4)
    # Paid by the permit in the request itself: the nonce is used and no allowance is left.
    assert collateral.nonces(user) == nonce + 1 and collateral.allowance(user, book) == 0
    assert signed_or_sent(page) == {"eth_signTypedData_v4", "eth_sendTransaction"}
    expect(section.locator(".orders")).to_contain_text(re.compile(f"#{pending_before}mint 1,000.00 USDC{plain}Filled"))
    # What the position made or lost, from the user's settled orders (settle fee included).
    number, percent = r"[+−][\d,]+\.\d\d USDC", r"\([+−][\d.]+%\)"
    worth = r"worth [\d,]+\.\d\d USDC now"
    expect(section.locator('[data-field="tokens_result"]')).to_have_text(
        re.compile(f"^{number} {percent}: paid 1,000\\.10 USDC, got back 0\\.00 USDC, {worth}$")
    )
    # The chart's legend names its lines without a pointer over it.
    expect(section.locator(".u-legend")).to_contain_text("iETH3 NAV")
    expect(section.locator(".u-legend")).not_to_contain_text("--")
    page.wait_for_timeout(500)  # the chart's next refresh has the new point
    page.screenshot(path=str(ROOT / "docs" / "app.png"), full_page=True)


def test_page__redeem__keeper_settles_it_and_pays_collateral(open_page, market, accounts):
    holder = accounts[4]  # minted 100,000 USDC of each market when the playground seeded it
    pool, book, collateral = market("1")
    tokens, cash = pool.balanceOf(holder), collateral.balanceOf(holder)
    assert tokens > 1_000 * 10**18
    order_id = book.next_order() + book.pending_orders()
    page = open_page(holder)
    section = page.locator('section[data-market="1"]')
    section.get_by_role("button", name="Redeem", exact=True).click()
    section.locator("input[name=slippage]").fill(SLIPPAGE)
    section.locator("input[name=amount]").fill("500")
    expect(section.locator(".preview")).to_contain_text("that pays about")
    expect(section.locator(".preview")).to_contain_text("or the tokens come back")
    section.get_by_role("button", name="Request redeem").click()

    done = section.locator(".progress.done")
    expect(done).to_contain_text(f"Order {order_id}: filled", timeout=SETTLES_WITHIN)
    settled = settlement(pool, order_id)
    paid = collateral.balanceOf(holder) - cash
    assert settled.filled == 500 * 10**18 and pool.balanceOf(holder) == tokens - 500 * 10**18
    assert paid == settled.out > 0
    expect_amount(done, paid, 6, 2, after="got")
    expect_amount(section.locator('[data-field="cash"]'), collateral.balanceOf(holder), 6, 2)
    expect_amount(section.locator('[data-field="tokens"]'), pool.balanceOf(holder), 18, 4)
    assert signed_or_sent(page) == {"eth_sendTransaction"}  # an exit needs no permit


def test_page__a_request_the_book_refuses__is_explained_in_plain_words_and_nothing_is_signed(
    open_page, market, accounts
):
    """The owner pauses the market after the page showed its preview: the book
    refuses the mint, and the page says why in the CLI's words; the next input
    clears the refusal."""
    user, owner = accounts[5], accounts[0]
    pool, book, collateral = market("1")
    queued, nonce = book.next_order() + book.pending_orders(), collateral.nonces(user)
    page = open_page(user)
    section = page.locator('section[data-market="1"]')
    section.locator("input[name=amount]").fill("50")
    expect(section.locator(".preview")).to_contain_text("Pay 50.00 USDC")
    pool.pause(sender=owner)
    try:
        section.get_by_role("button", name="Request mint").click()
        reason = "orders: closed"
        # The CLI's words, from the same table.
        expect(section.locator(".progress.error")).to_have_text(f"{reason}: {cli_module().EXPLANATIONS[reason]}")
        assert not signed_or_sent(page)  # refused before the wallet was asked to sign anything
        assert book.next_order() + book.pending_orders() == queued and collateral.nonces(user) == nonce
        section.locator("form.order").screenshot(path=str(ROOT / "docs" / "app-refused.png"))
    finally:
        pool.unpause(sender=owner)
    section.locator("input[name=amount]").fill("60")
    expect(section.locator(".progress.error")).to_have_count(0)


def test_page__amount_below_the_minimum_or_past_the_decimals__says_so_and_the_button_stays_off(open_page, accounts):
    """5 USDC showed a preview and an enabled button, then the book refused it;
    12.1234567 was taken as 12.123457. Both are refused as they are typed."""
    page = open_page(accounts[5])
    section = page.locator('section[data-market="1"]')
    button = section.get_by_role("button", name="Request mint")
    section.locator("input[name=amount]").fill("5")
    expect(section.locator(".preview")).to_have_text(
        "The smallest order in this market is 10.00 USDC: ask for at least that."
    )
    expect(button).to_be_disabled()
    section.locator("input[name=amount]").fill("12.1234567")
    expect(section.locator(".preview")).to_have_text("USDC has 6 decimals: type at most 6 digits after the point.")
    expect(button).to_be_disabled()
    section.locator("input[name=amount]").fill("12.123456")
    expect(section.locator(".preview")).to_contain_text("Pay 12.12 USDC")
    expect(button).to_be_enabled()


def test_playground__its_cli_line__works_against_it_with_a_deadline_on_its_clock(playground, market, accounts):
    """The playground prints a ready-to-paste CLI line (its manifest, its node, the
    page's account), and a request from it is valid for five minutes of the user's
    time on the playground's fast clock: 2 of 8 CLI requests failed with `orders:
    deadline passed` when the deadline was 20 minutes of chain time (10 rounds)."""
    line = re.search(r"CLI\s+\.venv/bin/ape run inverse (.+)", playground["output"]).group(1)
    args = shlex.split(line)
    assert args[0] == "status"
    ape = [str(Path(sys.executable).parent / "ape"), "run", "inverse"]
    status = subprocess.run(ape + args, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert status.returncode == 0 and "your tokens" in status.stdout, status.stdout + status.stderr[-2000:]
    pool, book, _ = market("1")
    queued = book.next_order() + book.pending_orders()
    mint = subprocess.run(
        ape + ["mint", "20", "--yes", "--no-wait", "--market", "1", *args[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert mint.returncode == 0, mint.stdout + mint.stderr[-2000:]
    assert f"Order {queued} requested" in mint.stdout
    assert book.order(queued).status != 0  # known to the book: pending or settled by the keeper already


def test_page__a_node_capping_log_ranges__still_shows_every_order_and_the_chart(
    open_page, market, playground, accounts
):
    """Public RPCs refuse an eth_getLogs over too many blocks: the page reads the
    orders and the chart's history in pages, and shows the same as on any node."""
    user = accounts[5]  # minted on the -3x market in the test above
    pool, book, _ = market("3")
    requested = book.OrderRequested.range(0, chain.blocks.head.number + 1, search_topics={"receiver": user.address})
    mine = [log.order_id for log in requested if log.kind == ORDER_MINT]
    head = chain.blocks.head.number
    assert mine and head > 80
    refused: list = []
    # A cap of an eighth of the chain: every history query is refused whole, then paged.
    page = open_page(user, route=capped_logs(playground["rpc"], head // 8, refused))
    section = page.locator('section[data-market="3"]')
    for order_id in mine:
        expect(section.locator(".orders")).to_contain_text(f"#{order_id}mint", timeout=60_000)
    expect(section.locator(".drag")).not_to_contain_text("The chart starts with", timeout=60_000)
    assert refused  # the whole range was asked first and refused, then read in pages


def test_page__lp_deposit_then_lp_withdrawal__settled_by_the_keeper_and_paid(open_page, market, accounts):
    """An LP's round trip from the page: a deposit by permit, its shares shown; then
    a withdrawal of all of them (the max button), paid in collateral."""
    lp = accounts[7]
    pool, book, collateral = market("1")
    lp_token = project.LpToken.at(pool.lp_token())
    collateral.mint(lp, 20_000 * USDC, sender=lp)
    page = open_page(lp)
    section = page.locator('section[data-market="1"]')
    section.get_by_role("button", name="LP deposit").click()
    section.locator("input[name=slippage]").fill(SLIPPAGE)
    section.locator("input[name=amount]").fill("10000")
    expect(section.locator(".preview")).to_contain_text("Pay 10,000.00 USDC + 0.10 USDC settle fee")
    expect(section.locator(".preview")).to_contain_text("LP shares; at least")
    deposit = book.next_order() + book.pending_orders()
    section.get_by_role("button", name="Request LP deposit").click()
    done = section.locator(".progress.done")
    expect(done).to_contain_text(f"Order {deposit}: filled", timeout=SETTLES_WITHIN)
    shares = lp_token.balanceOf(lp)
    assert shares == settlement(pool, deposit).out > 0
    expect_amount(section.locator('[data-field="lp_shares"]'), shares, 18, 4)
    expect(section.locator('[data-field="lp_result"]')).to_contain_text("paid 10,000.10 USDC, got back 0.00 USDC")

    cash = collateral.balanceOf(lp)
    section.get_by_role("button", name="LP withdraw").click()
    section.locator("input[name=slippage]").fill(SLIPPAGE)
    section.get_by_role("button", name="max").click()
    expect(section.locator(".preview")).to_contain_text("or the shares come back")
    withdrawal = book.next_order() + book.pending_orders()
    section.get_by_role("button", name="Request LP withdrawal").click()
    expect(done).to_contain_text(f"Order {withdrawal}: filled", timeout=SETTLES_WITHIN)
    paid = collateral.balanceOf(lp) - cash
    assert lp_token.balanceOf(lp) == 0 and paid == settlement(pool, withdrawal).out > 9_000 * USDC
    expect_amount(done, paid, 6, 2, after="got")
    expect(section.locator(".orders")).to_contain_text(f"#{withdrawal}lp-withdraw")
    cost = 10_000 * USDC + 100_000  # the deposit and its settle fee
    result = paid - cost
    sign = "+" if result >= 0 else "−"
    percent = Decimal(abs(result) * 10_000 // cost) / 100
    expect(section.locator('[data-field="lp_result"]')).to_have_text(
        f"{sign}{money(abs(result))} ({sign}{percent:.2f}%): paid 10,000.10 USDC, got back {money(paid)}, "
        "worth 0.00 USDC now",
    )


def test_page__a_collateral_without_permit__approves_first_then_requests_and_the_keeper_settles_it(
    open_page, market, playground, accounts
):
    """Where the collateral takes no permit, the page sends an approval for the
    amount plus the settle fee, then the request; nothing is signed."""
    user = accounts[1]
    pool, book, collateral = market("1")
    collateral.mint(user, 1_000 * USDC, sender=user)
    assert collateral.allowance(user, book) == 0
    page = open_page(user, route=without_permit(playground["rpc"], collateral.address))
    section = page.locator('section[data-market="1"]')
    section.locator("input[name=slippage]").fill(SLIPPAGE)
    section.locator("input[name=amount]").fill("100")
    expect(section.locator(".preview")).to_contain_text("this token takes no permit, so an approval for this amount")
    order_id = book.next_order() + book.pending_orders()
    section.get_by_role("button", name="Request mint").click()
    done = section.locator(".progress.done")
    expect(done).to_contain_text(f"Order {order_id}: filled", timeout=SETTLES_WITHIN)
    log = page.evaluate("window.__testWallet.log")
    assert "eth_signTypedData_v4" not in log and log.count("eth_sendTransaction") == 2  # approve, then request
    assert collateral.allowance(user, book) == 0  # approved for this order exactly, and spent
    assert pool.balanceOf(user) == settlement(pool, order_id).out > 0


def test_page__a_mint_the_price_moved_against__refunded_and_the_page_says_why(open_page, market, playground, accounts):
    """ETH falls 5% between the preview and the order's price (the test holds the
    playground's price still and brings that fall to its price service from the
    order's slot on): a -1x mint gets about 5% fewer tokens than previewed, past its
    0.5% bound, so it is refunded, and the page says why and what to do."""
    user = accounts[1]  # the approval test's
    pool, book, collateral = market("1")
    oracle = project.PythOracle.at(pool.oracle())
    collateral.mint(user, 1_000 * USDC, sender=user)
    with price_held(playground):
        page = open_page(user)
        section = page.locator('section[data-market="1"]')
        section.locator("input[name=slippage]").fill("0.5")
        section.locator("input[name=amount]").fill("100")
        expect(section.locator(".preview")).to_contain_text("Pay 100.00 USDC")
        # From 4 s on: before the order's T (a request is priced at least 5 s after it), after the click.
        fall = Decimal(oracle.price()) * 95 / 100 / 10**18
        body = {"price": f"{fall:.2f}", "from": chain.blocks.head.timestamp + 4}
        requests.post(f"{playground['config']['hermes']}/price", json=body, timeout=10).raise_for_status()
        order_id = book.next_order() + book.pending_orders()
        cash = collateral.balanceOf(user)
        section.get_by_role("button", name="Request mint").click()
        done = section.locator(".progress.done")
        expect(done).to_contain_text(f"Order {order_id}: refunded", timeout=SETTLES_WITHIN)
    log = settlement(pool, order_id)
    assert log.outcome == OUTCOME_REFUNDED and log.refunded == 100 * USDC
    assert collateral.balanceOf(user) == cash - 100_000  # all back but the settle fee
    expect(done).to_contain_text("your bound was")
    expect(done).to_contain_text("ask again with a wider slippage bound (the Slippage bound field)")


def test_page__a_payout_the_collateral_refuses__is_owed_and_claimed_from_the_page(open_page, market, accounts):
    """USDC can block an account: a redeem's payout to it is refused, so the pool
    owes it (`claimable`) rather than hold up the queue; once the account is
    unblocked, the page shows what is owed and its Claim button pays it."""
    user = accounts[1]  # holds iETH1 from the approval test
    pool, book, collateral = market("1")
    usdc = project.MockBlocklistCollateral.at(collateral.address)
    shares = pool.balanceOf(user)
    assert shares > 0 and pool.claimable(user) == 0
    usdc.set_blocked(user, True, sender=user)
    try:
        far = chain.blocks.head.timestamp + 30 * 86_400
        order_id = book.request_redeem(shares, 0, user, far, sender=user).return_value
        deadline = time.monotonic() + SETTLES_WITHIN / 1_000
        while book.order(order_id).status != ORDER_SETTLED:
            assert time.monotonic() < deadline, "the keeper did not settle the redeem"
            time.sleep(0.5)
    finally:
        usdc.set_blocked(user, False, sender=user)
    owed = pool.claimable(user)
    assert owed == settlement(pool, order_id).out > 0
    cash = collateral.balanceOf(user)
    page = open_page(user)
    section = page.locator('section[data-market="1"]')
    # What the user sees: what is owed beside the wallet's USDC, and the payout in the wallet after.
    expect(section.locator('[data-field="claimable"]')).to_have_text(money(owed))
    expect(section.locator('[data-field="cash"]')).to_have_text(money(cash))
    section.get_by_role("button", name="Claim").click()
    expect(section.locator(".progress.done")).to_contain_text(f"Claimed {money(owed)}.")
    assert pool.claimable(user) == 0 and collateral.balanceOf(user) == cash + owed
    expect(section.locator('[data-field="cash"]')).to_have_text(money(cash + owed))
    expect(section.locator(".claim-row")).to_be_hidden()
    expect(section.get_by_role("button", name="Claim")).to_be_hidden()


def test_page__a_mint_larger_than_the_backing__partly_filled_and_the_page_says_why(open_page, market, accounts):
    """What does not fit the LPs' backing at settlement comes back, and the result
    says so in plain words, with what to do."""
    user = accounts[8]
    pool, book, collateral = market("3")
    room = while_price_is_fresh(project.PoolLens.at(pool.lens()).max_mint)
    collateral.mint(user, room * 2, sender=user)
    page = open_page(user)
    section = page.locator('section[data-market="3"]')
    section.locator("input[name=slippage]").fill(SLIPPAGE)
    section.locator("input[name=amount]").fill(str(room * 3 // 2 // USDC))
    expect(section.locator(".preview")).to_contain_text(
        "fits the LPs' backing now: what does not fit at settlement is refunded"
    )
    order_id = book.next_order() + book.pending_orders()
    section.get_by_role("button", name="Request mint").click()
    done = section.locator(".progress.done")
    expect(done).to_contain_text(f"Order {order_id}: partly filled", timeout=SETTLES_WITHIN)
    settled = settlement(pool, order_id)
    assert settled.refunded > 0 and settled.filled > 0
    expect(done).to_contain_text(f"The rest, {settled.refunded / USDC:,.2f} USDC, came back.")
    expect(done).to_contain_text("Why: the LPs' backing had room for only part of it (the rest came back)")


def test_page__on_a_phone__one_readable_column(open_page, accounts):
    """A phone's viewport (390 x 844): the markets stack in one column and nothing
    is wider than the screen; the README's phone screenshot (its first screen) comes
    from here."""
    page = open_page(accounts[5], viewport=(390, 844))
    section = page.locator('section[data-market="1"]')
    expect(section.locator('[data-field="price"]')).not_to_be_empty()
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    first, second = (page.locator(f'section[data-market="{m}"]').bounding_box() for m in ("1", "3"))
    assert second["y"] >= first["y"] + first["height"]  # one below the other
    page.wait_for_timeout(500)
    page.screenshot(path=str(ROOT / "docs" / "app-phone.png"))  # the first screen


def test_page__what_an_lp_earns_and_risks__from_the_pools_events_and_state(open_page, market, accounts):
    """Two lines per market: the last week's fees to LPs as a yearly rate on the LP
    value (mint and redeem fees and the management fee, less keeper bounties, read
    from the pool's events), and what a 10% move shifts between LPs and holders."""
    pool, _, _ = market("1")
    lens = project.PoolLens.at(pool.lens())
    page = open_page(accounts[5])
    section = page.locator('section[data-market="1"]')
    earn, risk = section.locator('[data-field="lp_earn"]'), section.locator('[data-field="lp_risk"]')
    expect(earn).to_contain_text("% a year: ")

    def chain_fees() -> tuple[int, float]:
        """The fees the page should show now: since the later of a week ago and the first priced event."""
        head = chain.blocks.head
        when = {}

        def at(log):
            if log.block_number not in when:
                when[log.block_number] = chain.blocks[log.block_number].timestamp
            return when[log.block_number]

        rebalances = list(pool.Rebalance.range(0, head.number + 1))
        settled = [log for log in pool.OrderSettled.range(0, head.number + 1) if log.price > 0]
        first = min(at(log) for log in rebalances + settled)
        start = max(head.timestamp - 7 * 86_400, first)
        fees = sum(log.fee for log in pool.Mint.range(0, head.number + 1) if at(log) >= start)
        fees += sum(log.fee for log in pool.Redeem.range(0, head.number + 1) if at(log) >= start)
        fees += sum(log.management_fee - log.bounty for log in rebalances if at(log) >= start)
        return fees, (head.timestamp - start) / 86_400

    deadline = time.monotonic() + 30
    while True:  # the chain moves an hour every 2 s: compare at one head
        fees, days = chain_fees()
        shown = re.search(r"about (-?[\d.]+)% a year: (-?[\d,]+\.\d\d) USDC over the last ", earn.inner_text())
        want = (Decimal(fees) / USDC).quantize(Decimal("0.01"), ROUND_HALF_UP)
        if shown and Decimal(shown.group(2).replace(",", "")) == want:
            break
        assert time.monotonic() < deadline, (earn.inner_text(), fees, days)
        time.sleep(0.5)
    assert fees > 0 and float(shown.group(1)) > 0  # the playground's trades paid fees
    expect(earn).to_contain_text("(mint and redeem fees and the management fee, less keeper bounties)")
    # A -1x market: a 10% move shifts 10% of what holders own.
    shift = while_price_is_fresh(lens.inverse_value) // 10
    moved = r"moves about ([\d,]+\.\d\d) USDC \(([\d.]+)% of LP value\) from LPs to holders"
    shown = re.search(moved, risk.inner_text())
    # Within 5%: the price moves between the page's read and this one.
    assert shown and abs(Decimal(shown.group(1).replace(",", "")) * USDC - shift) < shift / 20
    expect(risk).to_contain_text("; a 10% rise, as much to LPs")


def test_page__pull_market_with_no_recent_price_on_chain__previews_at_the_price_services_and_the_mint_settles(
    open_page, market, playground, accounts
):
    """On a testnet nobody may have brought ETH/USD to Pyth's contract in the last
    minute: the views refuse, and the page reads them again at the price service's
    latest price, brought to Pyth inside one eth_call (the PullRebalancer's
    `view_after_update`), so the preview is full and the request goes as usual;
    nothing is sent to look, and the keeper settles the order with its own proof."""
    user = accounts[9]
    pool, book, collateral = market("1")  # room to mint (the -3x market's was taken by the test above)
    oracle = project.PythOracle.at(pool.oracle())
    pyth = project.MockPyth.at(oracle.pyth())
    collateral.mint(user, 2_000 * USDC, sender=user)
    with price_left_stale(playground, pool) as stored:
        page = open_page(user)
        section = page.locator('section[data-market="1"]')
        section.locator("input[name=slippage]").fill(SLIPPAGE)
        section.locator("input[name=amount]").fill("1000")
        preview = section.locator(".preview")
        gist = (
            r"^Pay 1,000\.10 USDC, get about [\d,]+\.\d\d iETH1 \(at least [\d,]+\.\d\d iETH1\), at the next Pyth price"
        )
        expect(preview).to_have_text(
            re.compile(gist + r".* Previewed at Pyth's latest price, \d+ s old\."), use_inner_text=True
        )
        expect(section.locator('[data-field="price"]')).to_have_text(
            re.compile(r"^[\d,]+\.\d\d \(Pyth's latest, \d+ s old; not yet on-chain\)$")
        )
        expect(section.locator('[data-field="nav"]')).to_have_text(re.compile(r"^\d+\.\d{4}$"))
        expect(section.locator('[data-field="capacity"]')).to_contain_text("USDC")
        preview.get_by_text("Details").click()
        expect(preview).to_contain_text("Pay 1,000.00 USDC + 0.10 USDC settle fee. At Pyth's latest price ")
        # Looking sends nothing: no transaction, and Pyth's stored price is the stale one still.
        assert not signed_or_sent(page) and pyth.getPriceUnsafe(oracle.price_id()).publishTime == stored

        order_id = book.next_order() + book.pending_orders()
        section.get_by_role("button", name="Request mint").click()
        done = section.locator(".progress.done")
        expect(done).to_contain_text(f"Order {order_id}: filled, at the Pyth price published", timeout=SETTLES_WITHIN)
        settled = settlement(pool, order_id)
        assert settled.outcome == OUTCOME_FILLED and pool.balanceOf(user) == settled.out > 0
        assert signed_or_sent(page) == {"eth_signTypedData_v4", "eth_sendTransaction"}  # the permit, the request
        # Nobody brought a price to Pyth's store meanwhile: the page read at Hermes's, the keeper proved its own.
        assert pyth.getPriceUnsafe(oracle.price_id()).publishTime == stored


def test_page__pull_market_with_no_recent_price_on_a_node_without_state_overrides__the_wallets_balance_pays_the_fee(
    open_page, market, playground, accounts
):
    """Pyth's fee is value in the call: from an address given a balance in the call
    itself (a state override) or, on a node that takes none, from the wallet's own
    address and balance, still in a call: nothing is sent."""
    pool, _, _ = market("1")
    refused: list = []
    with price_left_stale(playground, pool):
        page = open_page(accounts[9], route=refusing_state_overrides(playground["rpc"], refused))
        section = page.locator('section[data-market="1"]')
        section.locator("input[name=amount]").fill("100")
        expect(section.locator(".preview")).to_contain_text("Previewed at Pyth's latest price")
        expect(section.get_by_role("button", name="Request mint")).to_be_enabled()
        assert refused and not signed_or_sent(page)


@pytest.mark.parametrize(
    ("handle", "answer"),
    [
        # Down, or refusing this page's origin (CORS): the browser gets no answer at all.
        (
            lambda route: route.abort("connectionrefused"),
            "did not answer (it is down, or it does not allow this page's address: CORS)",
        ),
        (
            lambda route: route.fulfill(status=503, json={"message": "Service Unavailable"}),
            "answered 503: Service Unavailable",
        ),
    ],
    ids=["down", "503"],
)
def test_page__pull_market_with_no_recent_price_and_the_price_service_failing__says_so_and_stays_off(
    open_page, market, playground, accounts, handle, answer
):
    """When the price service cannot give the page Pyth's latest price, the page says
    what it could not get, from where and why, and the request stays off."""
    pool, _, _ = market("3")
    hermes = playground["config"]["hermes"]
    with price_left_stale(playground, pool):
        page = open_page(accounts[9], price_service=handle)
        section = page.locator('section[data-market="3"]')
        section.locator("input[name=amount]").fill("100")
        why = (
            "oracle: stale price (none on-chain in the last 1 min), and Pyth's latest could not be had: "
            f"the price service at {hermes} {answer}"
        )
        expect(section.locator(".preview")).to_have_text(f"No preview now: {why}.")
        expect(section.locator('[data-field="price"]')).to_have_text(f"no price now ({why})")
        expect(section.get_by_role("button", name="Request mint")).to_be_disabled()
        assert not signed_or_sent(page)
