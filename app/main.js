// The inverse-token web page: markets from the deployment manifest, a browser wallet
// found by EIP-6963, orders requested at each market's order book (with an EIP-2612
// permit where the collateral takes one) and followed until the keeper settles them.
// viem does every ABI encoding, signature and RPC call; uPlot draws the chart.
// `data.json` (ABIs from the compiled contracts, the CLI's words for each revert) and
// `config.json` (network, manifest, request defaults) are served beside this bundle.

import {
  BaseError,
  ContractFunctionRevertedError,
  createPublicClient,
  createWalletClient,
  custom,
  decodeFunctionResult,
  defineChain,
  domainSeparator,
  encodeFunctionData,
  formatUnits,
  getAddress,
  http,
  numberToHex,
  parseEventLogs,
  parseSignature,
  parseUnits,
} from "viem";
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

const WAD = 10n ** 18n;
const KINDS = { mint: 1n, redeem: 2n, lp_deposit: 3n, lp_withdraw: 4n };
const ENTRY = new Set(["mint", "lp_deposit"]);
const ORDER_SETTLED = 2n;
const PULL_SLOT = 5n; // seconds: a pull order's T is rounded up to a slot (constants.vy)
const REFRESH_MS = 3000;
const FOLLOW_MS = 1500;
const PERMIT_TYPES = {
  Permit: [
    { name: "owner", type: "address" },
    { name: "spender", type: "address" },
    { name: "value", type: "uint256" },
    { name: "nonce", type: "uint256" },
    { name: "deadline", type: "uint256" },
  ],
};

// A pull market's views refuse with these when no recent price is on-chain: the page then reads
// them again at Hermes's latest price, brought in the call itself (`readFresh`).
const NO_RECENT_PRICE = new Set(["oracle: stale price", "oracle: no price"]);
// Whom that call comes from when no wallet is connected: an address with a balance (Pyth's fee) only in the call.
const CALLER = "0x000000000000000000000000000000000000dEaD";
// Pyth's own errors (PythErrors.sol), in words.
const PYTH_ERRORS = {
  "0xe69ffece": "Pyth's contract refused the price service's update (InvalidUpdateData): is the deployment's hermes the price service of this chain's Pyth?",
  "0x025dbdd4": "Pyth's contract wanted a higher update fee (InsufficientFee)",
};

let data; // { abis, explanations, payment, kinds, outcomes }
let config; // { network, chain_id, rpc, manifest, hermes, deadline_seconds, slippage_percent, faucet }
let chain;
let reader = null; // a viem public client: the node's RPC (local) or the wallet's
let wallet = null; // { info, provider, client, account, chainId }
const wallets = new Map(); // EIP-6963 uuid -> { info, provider }
const markets = [];

const $ = (selector, root = document) => root.querySelector(selector);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// ------------------------------------------------------------------ formatting

function fmt(value, decimals, places = 2) {
  if (value === null || value === undefined) return "n/a";
  return Number(formatUnits(value, decimals)).toLocaleString("en-US", {
    minimumFractionDigits: places,
    maximumFractionDigits: places,
  });
}

function duration(seconds) {
  seconds = Math.max(Number(seconds), 0);
  if (seconds < 60) return `${Math.round(seconds)} s`;
  const minutes = Math.round(seconds / 60);
  const [h, m] = [Math.floor(minutes / 60), minutes % 60];
  if (!h) return `${m} min`;
  return m ? `${h} h ${m} min` : `${h} h`;
}

const chainTime = (t) => new Date(Number(t) * 1000).toISOString().replace("T", " ").slice(0, 16) + " UTC";
const short = (address) => `${address.slice(0, 6)}…${address.slice(-4)}`;

// ------------------------------------------------------------------ errors in plain words

/** A revert or a wallet error as one line that says what to do next (the CLI's words). */
function explain(error) {
  const rejected = (e) => e?.code === 4001 || e?.name === "UserRejectedRequestError";
  if (rejected(error) || (error instanceof BaseError && error.walk(rejected))) {
    return "You declined in your wallet: nothing was sent.";
  }
  const reason = revertReason(error);
  if (reason) return `${reason}: ${data.explanations[reason] ?? "the contract refused"}`;
  if (error instanceof BaseError) return error.shortMessage;
  return String(error?.message ?? error);
}

const reverted = (error) => error instanceof BaseError && Boolean(error.walk((e) => e instanceof ContractFunctionRevertedError));

function revertReason(error) {
  if (!(error instanceof BaseError)) return null;
  const revert = error.walk((e) => e instanceof ContractFunctionRevertedError);
  return revert?.reason ?? PYTH_ERRORS[revert?.signature ?? revert?.raw?.slice(0, 10)] ?? null;
}

function banner(text, kind = "warn", action = null) {
  const box = $("#banner");
  box.replaceChildren(text);
  box.className = kind;
  box.hidden = !text;
  if (action) box.append(" ", button(action.label, action.run));
}

function button(label, onClick) {
  const b = document.createElement("button");
  b.type = "button";
  b.textContent = label;
  b.addEventListener("click", onClick);
  return b;
}

// ------------------------------------------------------------------ wallet

function discoverWallets() {
  window.addEventListener("eip6963:announceProvider", (event) => {
    const { info, provider } = event.detail;
    if (!wallets.has(info.uuid)) {
      wallets.set(info.uuid, { info, provider });
      renderWallets();
      if (!wallet && localStorage.getItem("wallet") === info.rdns) reconnect({ info, provider });
    }
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));
  // A wallet that predates EIP-6963 only sets window.ethereum.
  setTimeout(() => {
    if (!wallets.size && window.ethereum) {
      wallets.set("injected", { info: { uuid: "injected", name: "browser wallet", rdns: "injected" }, provider: window.ethereum });
    }
    renderWallets();
  }, 400);
}

function renderWallets() {
  const box = $("#wallets");
  box.replaceChildren();
  if (wallet) return;
  if (!wallets.size) {
    box.textContent = "No browser wallet found: install one (MetaMask, Rabby, Frame) to trade.";
    return;
  }
  for (const w of wallets.values()) {
    const b = button(`Connect ${w.info.name}`, () => connect(w));
    if (w.info.icon) {
      const icon = document.createElement("img");
      icon.src = w.info.icon;
      icon.alt = "";
      icon.width = icon.height = 16;
      icon.style.verticalAlign = "-3px";
      icon.style.marginRight = "6px";
      b.prepend(icon);
    }
    box.append(b);
  }
}

async function reconnect(w) {
  try {
    const accounts = await w.provider.request({ method: "eth_accounts" });
    if (accounts.length) await connect(w);
  } catch {
    /* not authorised any more: the connect button stays */
  }
}

async function connect(w) {
  try {
    const accounts = await w.provider.request({ method: "eth_requestAccounts" });
    if (!accounts.length) throw new Error("the wallet gave no account");
    const chainId = Number(await w.provider.request({ method: "eth_chainId" }));
    wallet = { ...w, account: getAddress(accounts[0]), chainId };
    wallet.client = createWalletClient({ chain, transport: custom(w.provider) });
    localStorage.setItem("wallet", w.info.rdns);
    w.provider.on?.("accountsChanged", (list) => {
      if (!list.length) return disconnect();
      wallet.account = getAddress(list[0]);
      renderAccount();
      refreshAll();
    });
    w.provider.on?.("chainChanged", (id) => {
      wallet.chainId = Number(id);
      checkChain();
    });
    renderWallets();
    renderAccount();
    checkChain();
  } catch (error) {
    banner(`Could not connect: ${explain(error)}`, "error");
  }
}

function disconnect() {
  wallet = null;
  localStorage.removeItem("wallet");
  $("#account").hidden = true;
  renderWallets();
  checkChain();
}

function renderAccount() {
  const box = $("#account");
  box.hidden = !wallet;
  if (wallet) box.textContent = `${wallet.info.name}: ${short(wallet.account)}`;
}

const rightChain = () => wallet !== null && wallet.chainId === config.chain_id;

/** Refuses a wallet on another chain: nothing is read through it or sent until it switches. */
function checkChain() {
  if (wallet && !rightChain()) {
    banner(
      `Your wallet is on chain ${wallet.chainId}, and these markets are on chain ${config.chain_id} (${config.network}). ` +
        "Switch your wallet's network to trade: nothing is sent from another chain.",
      "error",
      { label: "Switch network", run: switchChain },
    );
  } else {
    banner("");
  }
  if (!config.rpc) reader = rightChain() ? createPublicClient({ chain, transport: custom(wallet.provider) }) : null;
  $("#faucet").hidden = !(config.faucet && rightChain());
  refreshAll();
}

async function switchChain() {
  const chainId = numberToHex(config.chain_id);
  try {
    await wallet.provider.request({ method: "wallet_switchEthereumChain", params: [{ chainId }] });
  } catch (error) {
    if (error?.code !== 4902 || !config.rpc) return banner(`Could not switch: ${explain(error)}`, "error");
    try {
      await wallet.provider.request({
        method: "wallet_addEthereumChain",
        params: [
          {
            chainId,
            chainName: `Inverse playground (${config.network})`,
            rpcUrls: [config.rpc],
            nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
          },
        ],
      });
    } catch (addError) {
      return banner(`Could not add the network: ${explain(addError)}`, "error");
    }
  }
  wallet.chainId = Number(await wallet.provider.request({ method: "eth_chainId" }));
  checkChain();
}

// ------------------------------------------------------------------ chain access

const read = (address, role, functionName, args = []) =>
  reader.readContract({ address, abi: data.abis[role], functionName, args });

/** A view that may revert (no price now): its value, or null and the reason. */
async function tryRead(address, role, functionName, args = []) {
  try {
    return { value: await read(address, role, functionName, args), reason: null };
  } catch (error) {
    return { value: null, reason: revertReason(error) ?? explain(error) };
  }
}

// ------------------------------------------------------------------ a pull market's price from Hermes

const updates = new Map(); // `${hermes} ${id} ${block time}` -> Promise<{ data, publishTime, fee }>

/** One update of feed `id` from the price service (Hermes's REST shape, as `inverse/hermes.py`
 * reads it): `which` is "latest" or a time (the first update at or after it). */
async function hermesUpdate(hermes, id, which) {
  const url = `${hermes.replace(/\/+$/, "")}/v2/updates/price/${which}?ids[]=${id.replace(/^0x/, "")}&encoding=hex`;
  let response;
  try {
    response = await fetch(url, { cache: "no-store" });
  } catch {
    throw new Error(`the price service at ${hermes} did not answer (it is down, or it does not allow this page's address: CORS)`);
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    /* the status says enough */
  }
  if (!response.ok) throw new Error(`the price service at ${hermes} answered ${response.status}${body?.message ? `: ${body.message}` : ""}`);
  const raw = body?.binary?.data?.[0];
  const parsed = body?.parsed?.[0]?.price;
  if (body?.binary?.encoding !== "hex" || !raw || !parsed) throw new Error(`the price service at ${hermes} sent no update of the feed ${id}`);
  return { data: `0x${raw.replace(/^0x/, "")}`, publishTime: BigInt(parsed.publish_time) };
}

/** Hermes's latest price of feed `id`, with Pyth's fee, for the reads of the page's refresh at the block of
 * time `blockTime` (asked once for them all). The oracle refuses a price published after the block it reads
 * in, and a testnet's latest block is seconds behind Hermes: then the first update at or after the chain's
 * latest block's time is the latest one it takes. */
function pythUpdate(hermes, id, pyth, blockTime) {
  const key = `${hermes} ${id} ${blockTime}`;
  if (!updates.has(key)) {
    updates.clear(); // one block's update at a time: a newer block asks again
    const fetched = (async () => {
      let update = await hermesUpdate(hermes, id, "latest");
      const head = update.publishTime > blockTime ? (await reader.getBlock()).timestamp : blockTime;
      if (update.publishTime > head) update = await hermesUpdate(hermes, id, String(head));
      if (update.publishTime > head)
        throw new Error(`the price service has no price published by the chain's latest block (${chainTime(head)}) yet`);
      update.fee = await read(pyth, "pyth", "getUpdateFee", [[update.data]]);
      return update;
    })();
    fetched.catch(() => updates.get(key) === fetched && updates.delete(key)); // a failure is asked again next time
    updates.set(key, fetched);
  }
  return updates.get(key);
}

// Public RPCs refuse an eth_getLogs over too many blocks (or results), each in words of its own.
const TOO_LARGE = /range|limit|exceed|too many|too large|more than|response size/i;
let logRange = null; // blocks per eth_getLogs once the node refused more (null: no limit seen)

/** A contract's events from `fromBlock` to `toBlock` (default the head), in pages
 * the node accepts: a page it refuses as too large is asked again at half the size,
 * and that size is kept for every later query. */
async function events(params, fromBlock, toBlock) {
  const to = toBlock ?? (await reader.getBlockNumber());
  const found = [];
  for (let from = fromBlock; from <= to; ) {
    const last = logRange && to - from >= logRange ? from + logRange - 1n : to;
    try {
      found.push(...(await reader.getContractEvents({ ...params, fromBlock: from, toBlock: last })));
      from = last + 1n;
    } catch (error) {
      const words = `${error?.details ?? ""} ${error?.shortMessage ?? error?.message ?? error}`;
      if (last === from || !TOO_LARGE.test(words)) throw error;
      logRange = (last - from + 1n) / 2n;
    }
  }
  return found;
}

/** Simulates (so a revert is explained before the wallet asks anything), sends, waits for the receipt. */
async function send(address, role, functionName, args, say) {
  const { request } = await reader.simulateContract({
    address,
    abi: data.abis[role],
    functionName,
    args,
    account: wallet.account,
  });
  say?.("Confirm in your wallet ...");
  const hash = await wallet.client.writeContract({ ...request, account: wallet.account, chain });
  say?.(`Sent (${short(hash)}); waiting for its block ...`);
  const receipt = await reader.waitForTransactionReceipt({ hash });
  if (receipt.status !== "success") throw new Error(`the transaction ${hash} reverted`);
  return receipt;
}

/** The collateral's EIP-712 domain if it takes EIP-2612 permits and the domain reproduces its own separator. */
async function permitDomain(token) {
  const separator = await tryRead(token, "collateral", "DOMAIN_SEPARATOR");
  if (separator.value === null) return null;
  const declared = await tryRead(token, "collateral", "eip712Domain");
  let name;
  let version;
  if (declared.value) [, name, version] = declared.value;
  else {
    name = (await read(token, "collateral", "name")).toString();
    version = "1";
  }
  const domain = { name, version, chainId: config.chain_id, verifyingContract: token };
  return domainSeparator({ domain }) === separator.value ? domain : null;
}

// ------------------------------------------------------------------ markets

class Market {
  constructor(entry) {
    this.entry = entry;
    this.pool = entry.pool;
    this.book = entry.order_book;
    this.lens = entry.lens; // the previews
    this.lpToken = entry.lp_token;
    this.kind = "mint";
    this.busy = false;
    this.points = []; // [timestamp, price, nav] from Rebalance and OrderSettled
    this.earned = []; // [timestamp, collateral] LPs earned: trade fees, management fee less bounty
    this.eventsFrom = BigInt(config.manifest.block);
    this.times = new Map();
    this.element = document.importNode($("#market-template").content, true).firstElementChild;
    this.element.dataset.market = entry.leverage;
    this.form = $("form", this.element);
    this.form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.request();
    });
    for (const b of this.form.querySelectorAll(".kinds button")) b.addEventListener("click", () => this.setKind(b.dataset.kind));
    this.form.slippage.value = String(config.slippage_percent);
    // A new input makes the last refusal stale: it goes, and the preview says what holds now.
    const changed = () => {
      if ($(".progress", this.form).classList.contains("error")) this.say("");
      this.preview();
    };
    this.form.amount.addEventListener("input", changed);
    this.form.slippage.addEventListener("input", changed);
    $(".max", this.form).addEventListener("click", () => this.fillMax());
    $(".claim", this.element).addEventListener("click", () => this.claim());
  }

  async load() {
    const [symbol, leverage, collateral, oracle, feed, lpSymbol] = await Promise.all([
      read(this.pool, "pool", "symbol"),
      read(this.pool, "pool", "leverage"),
      read(this.pool, "pool", "collateral"),
      read(this.pool, "pool", "oracle"),
      read(this.book, "book", "feed"),
      read(this.lpToken, "lp_token", "symbol"),
    ]);
    // A pull market (Pyth, settled in seconds) has no Chainlink feed.
    const pull = /^0x0{40}$/i.test(feed);
    Object.assign(this, { symbol, leverage, collateral, oracle, feed, lpSymbol, pull });
    [this.decimals, this.cashSymbol, this.maxAge] = await Promise.all([
      read(collateral, "collateral", "decimals"),
      read(collateral, "collateral", "symbol"),
      read(oracle, "oracle", "max_age"),
    ]);
    if (pull) {
      // Where a newer price comes from when the one on-chain is too old for a preview.
      [this.pyth, this.priceId] = await Promise.all([read(oracle, "pull_oracle", "pyth"), read(oracle, "pull_oracle", "price_id")]);
      this.hermes = this.entry.hermes ?? config.hermes ?? null;
      this.rebalancer = config.manifest.contracts?.pull_rebalancer ?? null;
    }
    this.label = `-${formatUnits(leverage, 18)}x`;
    $(".market-name", this.element).textContent = `${symbol}: ETH ${this.label}, against ${this.cashSymbol}`;
    $(".lev", this.element).textContent = `${this.label}`;
    this.setKind("mint");
  }

  field(name) {
    return $(`[data-field="${name}"]`, this.element);
  }

  money(value) {
    return `${fmt(value, this.decimals)} ${this.cashSymbol}`;
  }

  /** Decimals, unit and balance of what an order of `kind` pays in. */
  input(kind = this.kind) {
    if (ENTRY.has(kind)) {
      const cash = this.state?.cash ?? 0n;
      const fee = this.state?.settleFee ?? 0n;
      return { decimals: Number(this.decimals), unit: this.cashSymbol, max: cash > fee ? cash - fee : 0n };
    }
    if (kind === "redeem") return { decimals: 18, unit: this.symbol, max: this.state?.tokens ?? 0n };
    return { decimals: 18, unit: "LP shares", max: this.state?.lpShares ?? 0n };
  }

  /** A view of this market: its value (and, when read at Hermes's price, `fresh`: that update), or null and the reason. */
  async tryRead(address, role, functionName, args = []) {
    const result = await tryRead(address, role, functionName, args);
    if (result.value !== null || !this.pull || !NO_RECENT_PRICE.has(result.reason)) return result;
    return this.readFresh(address, role, functionName, args, result.reason);
  }

  /** The same view at Hermes's latest price, brought to Pyth in the call itself (the PullRebalancer's
   * `view_after_update`, one eth_call): nothing is sent, nothing is signed, no gas is spent. */
  async readFresh(address, role, functionName, args, stale) {
    const old = `${stale} (none on-chain in the last ${duration(this.maxAge)})`;
    if (!this.hermes || !this.rebalancer)
      return { value: null, reason: `${old}; this deployment names no ${this.hermes ? "pull_rebalancer" : "price service (hermes)"} to bring a newer one` };
    let update;
    try {
      update = await pythUpdate(this.hermes, this.priceId, this.pyth, BigInt(this.headTime));
    } catch (error) {
      return { value: null, reason: `${old}, and Pyth's latest could not be had: ${error.message ?? error}` };
    }
    const call = (account, stateOverride) =>
      reader.simulateContract({
        address: this.rebalancer,
        abi: data.abis.rebalancer,
        functionName: "view_after_update",
        args: [this.pyth, [update.data], address, encodeFunctionData({ abi: data.abis[role], functionName, args })],
        value: update.fee,
        account,
        stateOverride,
      });
    try {
      let answer;
      try {
        // Pyth's fee from a balance that exists only in the call.
        answer = await call(CALLER, [{ address: CALLER, balance: update.fee }]);
      } catch (error) {
        // A node that takes no state override: the wallet's own balance pays it, in the call only.
        if (reverted(error) || !rightChain()) throw error;
        answer = await call(wallet.account, undefined);
      }
      return { value: decodeFunctionResult({ abi: data.abis[role], functionName, data: answer.result }), reason: null, fresh: update };
    } catch (error) {
      const reason = revertReason(error);
      if (!reason && reverted(error))
        return {
          value: null,
          reason: `${old}, and the PullRebalancer at ${short(this.rebalancer)} refused to read at Pyth's latest without a reason (one deployed before view_after_update cannot)`,
        };
      return { value: null, reason: reason ?? explain(error) };
    }
  }

  async refresh() {
    const P = (name, args) => this.tryRead(this.pool, "pool", name, args);
    const B = (name) => tryRead(this.book, "book", name);
    const L = (name, args) => this.tryRead(this.lens, "lens", name, args);
    const [price, nav, refPrice, maxMint, lpValue, inverseValue, exhausted, paused, shut, params] = await Promise.all([
      ...["oracle_price", "nav", "reference_price"].map((name) => P(name)),
      ...["max_mint", "lp_value", "inverse_value", "exhausted"].map((name) => L(name)),
      ...["paused", "is_shutdown", "parameters"].map((name) => P(name)),
    ]);
    // The order terms a request gets, as the book holds them.
    const [settleFee, minOrder, minDelay, maxWait] = await Promise.all(
      ["settle_fee", "min_order", "min_delay", "max_wait"].map((name) => B(name)),
    );
    const s = {
      price: price.value, priceReason: price.reason, fresh: price.fresh ?? null, nav: nav.value, refPrice: refPrice.value,
      maxMint: maxMint.value, lpValue: lpValue.value, inverseValue: inverseValue.value, paused: paused.value, shut: shut.value,
      settleFee: settleFee.value, minOrder: minOrder.value, minDelay: minDelay.value, maxWait: maxWait.value,
      mintFee: params.value?.mint_fee, redeemFee: params.value?.redeem_fee,
      // Holders are owed all the pool holds: a deposit would make them whole first.
      exhausted: exhausted.value === true,
    };
    if (rightChain()) {
      const me = wallet.account;
      const [tokens, lpShares, cash, claimable] = await Promise.all([
        read(this.pool, "pool", "balanceOf", [me]),
        read(this.lpToken, "lp_token", "balanceOf", [me]),
        read(this.collateral, "collateral", "balanceOf", [me]),
        read(this.pool, "pool", "claimable", [me]),
      ]);
      const [tokensWorth, lpWorth] = await Promise.all([
        tokens ? L("preview_redeem", [tokens]) : { value: 0n },
        lpShares ? L("preview_lp_withdraw", [lpShares]) : { value: 0n },
      ]);
      Object.assign(s, { tokens, lpShares, cash, claimable, tokensWorth: tokensWorth.value, lpWorth: lpWorth.value });
    }
    this.state = s;
    this.render();
    await this.readPoints();
    this.renderLpLines();
    this.drawChart();
    if (rightChain()) await this.renderOrders();
  }

  render() {
    const s = this.state;
    const state = $(".market-state", this.element);
    state.textContent = s.shut ? "shut down" : s.paused ? "paused: exits only" : "open";
    state.className = `market-state badge ${s.shut || s.paused ? "closed" : "open"}`;
    this.field("price").textContent =
      s.price === null ? `no price now (${s.priceReason})` : s.fresh ? `${fmt(s.price, 18)} (${this.freshness(s.fresh)})` : fmt(s.price, 18);
    this.field("nav").textContent = s.nav === null ? "n/a" : fmt(s.nav, 18, 4);
    if (s.price !== null && s.refPrice) {
      // NAV is zero where P = P0 (1 + 1/L): that far above the price now, if no rebalance comes first.
      const zero = (Number(s.refPrice) / 1e18) * (1 + 1e18 / Number(this.leverage));
      const move = (zero / (Number(s.price) / 1e18) - 1) * 100;
      this.field("zero").textContent = `ETH +${move.toFixed(1)}% (to ${fmt(BigInt(Math.round(zero * 100)), 2)}), unless a rebalance comes first`;
    } else this.field("zero").textContent = "n/a";
    this.field("capacity").textContent = s.maxMint === null ? "n/a" : this.money(s.maxMint);
    this.field("lp_value").textContent = s.lpValue === null ? "n/a" : this.money(s.lpValue);
    const you = rightChain();
    this.field("tokens").textContent = you ? `${fmt(s.tokens, 18, 4)} ${this.symbol} (worth ${this.money(s.tokensWorth)})` : "—";
    this.field("lp_shares").textContent = you ? `${fmt(s.lpShares, 18, 4)} (worth ${this.money(s.lpWorth)})` : "—";
    this.field("cash").textContent = you ? this.money(s.cash) : "—";
    $(".claim-row", this.element).hidden = !(you && s.claimable > 0n);
    if (you && s.claimable > 0n) this.field("claimable").textContent = this.money(s.claimable);
    if (!this.busy) this.preview();
  }

  /** Where a price read at Hermes's latest comes from, in a few words. */
  freshness(update) {
    return `Pyth's latest, ${duration(BigInt(this.headTime) - update.publishTime)} old; not yet on-chain`;
  }

  setKind(kind) {
    this.kind = kind;
    for (const b of this.form.querySelectorAll(".kinds button")) b.classList.toggle("active", b.dataset.kind === kind);
    $(".unit", this.form).textContent = `(${this.input().unit})`;
    $(".request", this.form).textContent = { mint: "Request mint", redeem: "Request redeem", lp_deposit: "Request LP deposit", lp_withdraw: "Request LP withdrawal" }[kind];
    this.form.amount.value = "";
    $(".progress", this.form).textContent = "";
    this.preview();
  }

  fillMax() {
    const { decimals, max } = this.input();
    this.form.amount.value = formatUnits(max, decimals);
    this.preview();
  }

  /** The amount typed, in base units, or an error that says what to type. */
  amount() {
    const text = this.form.amount.value.trim().replaceAll(",", "");
    if (!text) return { error: "" };
    const { decimals, unit, max } = this.input();
    if (!/^\d*\.?\d*$/.test(text) || text === ".") return { error: `'${text}' is not an amount: type a number of ${unit}.` };
    const places = (text.split(".")[1] ?? "").length;
    if (places > decimals) return { error: `${unit} has ${decimals} decimals: type at most ${decimals} digits after the point.` };
    const value = parseUnits(text, decimals);
    if (value <= 0n) return { error: "The amount must be positive." };
    if (ENTRY.has(this.kind) && this.state && value < this.state.minOrder)
      return { error: `The smallest order in this market is ${this.money(this.state.minOrder)}: ask for at least that.` };
    if (rightChain() && value > max) {
      const have = ENTRY.has(this.kind) ? `${fmt(max, decimals)} ${unit} after the settle fee` : `${fmt(max, decimals, 6)} ${unit}`;
      return { error: `You have ${have}: ask for at most that ('max').` };
    }
    return { value };
  }

  slippageBps() {
    const pct = Number(this.form.slippage.value);
    return Number.isFinite(pct) && pct >= 0 && pct <= 100 ? Math.round(pct * 100) : null;
  }

  whenItSettles() {
    const s = this.state;
    if (this.pull)
      return (
        `It settles at the NEXT Pyth price, not this one: the first published at least ${duration(s.minDelay)} after ` +
        `the request (rounded up to a ${PULL_SLOT}-second slot), seconds later once a keeper brings it. If that price ` +
        `comes more than ${duration(s.maxWait)} late, the order is void and refunded in full.`
      );
    const heartbeat = (this.maxAge * 10n) / 11n;
    return (
      `It settles at the NEXT oracle price, not this one: the first round published at least ${duration(s.minDelay)} ` +
      `after the request, within about ${duration(s.minDelay + heartbeat)} in a calm market, sooner if the price ` +
      `moves. If no round comes within ${duration(s.maxWait)} after that, it is void and refunded in full.`
    );
  }

  /** Shows what the typed order would get at the current price; enables the request when it can be sent. */
  async preview() {
    const seq = (this.previewSeq = (this.previewSeq ?? 0) + 1);
    const box = $(".preview", this.form);
    const submit = $(".request", this.form);
    const show = (text, error, ready = false, summary = null) => {
      if (seq !== this.previewSeq) return; // a newer preview is on its way
      box.textContent = summary ?? text;
      if (summary) {
        // The gist first; the full preview one click away.
        const more = document.createElement("details");
        const label = document.createElement("summary");
        label.textContent = "Details";
        const full = document.createElement("span");
        full.textContent = text;
        more.append(label, full);
        box.append(" ", more);
      }
      box.classList.toggle("error-text", error);
      submit.disabled = !ready || this.busy || !rightChain();
      if (!ready) this.pending = null;
    };
    if (!this.state) return;
    const { value, error } = this.amount();
    const bps = this.slippageBps();
    submit.title = !wallet ? "Connect a wallet first" : !rightChain() ? "Switch your wallet to this network first" : "";
    if (error !== undefined) {
      const hint = `Smallest order ${this.money(this.state.minOrder)}; settle fee ${this.money(this.state.settleFee)}.`;
      return show(error || (wallet ? hint : `${hint} Connect a wallet to request.`), Boolean(error));
    }
    if (bps === null) return show("The slippage bound is a percentage between 0 and 100.", true);
    if (this.kind === "lp_deposit" && this.state.exhausted)
      return show(
        "This market is exhausted: holders are owed all it holds, so a deposit would first make them whole and get " +
          "LP shares only for what is left; one with a slippage bound is refunded. To recapitalise it on purpose, use " +
          "the CLI: ape run inverse lp-deposit AMOUNT --recapitalise.",
        true,
      );
    const name = `preview_${this.kind}`;
    const preview = await this.tryRead(this.lens, "lens", name, [value]);
    if (preview.value === null) {
      const words = data.explanations[preview.reason];
      return show(`No preview now: ${preview.reason}${words ? `: ${words}` : ""}.`, true);
    }
    const s = this.state;
    const minOut = (preview.value * BigInt(10_000 - bps)) / 10_000n;
    const at = preview.fresh
      ? `At Pyth's latest price ${fmt(s.price, 18)}, ${duration(BigInt(this.headTime) - preview.fresh.publishTime)} old, ` +
        `from the price service as none on-chain is recent (NAV ${fmt(s.nav, 18, 4)})`
      : `At the current price ${fmt(s.price, 18)} (NAV ${fmt(s.nav, 18, 4)})`;
    let text;
    if (this.kind === "mint") {
      text =
        `Pay ${this.money(value)} + ${this.money(s.settleFee)} settle fee. ${at}, mint fee ${fmt(s.mintFee * 100n, 18)}%, ` +
        `that is about ${fmt(preview.value, 18, 4)} ${this.symbol}; at least ${fmt(minOut, 18, 4)} at settlement, or the order is refunded.`;
      if (s.maxMint !== null && value > s.maxMint) {
        text += ` Only ${this.money(s.maxMint)} fits the LPs' backing now: what does not fit at settlement is refunded, and the settle fee is spent either way.`;
      }
    } else if (this.kind === "lp_deposit") {
      text =
        `Pay ${this.money(value)} + ${this.money(s.settleFee)} settle fee. ${at}, LP value ${this.money(s.lpValue)}, ` +
        `that is about ${fmt(preview.value, 18, 4)} LP shares; at least ${fmt(minOut, 18, 4)} at settlement, or the order is refunded.`;
    } else if (this.kind === "redeem") {
      text =
        `${at}, redeem fee ${fmt(s.redeemFee * 100n, 18)}% and settle fee ${this.money(s.settleFee)}, that pays about ` +
        `${this.money(preview.value)}; at least ${this.money(minOut)} at settlement, or the tokens come back. They stay exposed until then.`;
    } else {
      text =
        `${at}, settle fee ${this.money(s.settleFee)}, that pays about ${this.money(preview.value)}; at least ` +
        `${this.money(minOut)} at settlement, or the shares come back.`;
    }
    if (ENTRY.has(this.kind) && rightChain()) {
      const allowance = await read(this.collateral, "collateral", "allowance", [wallet.account, this.book]);
      const way = allowance >= value + s.settleFee ? "allowance" : (await permitDomain(this.collateral)) ? "permit" : "approve";
      text += ` ${data.payment[way]}`;
    }
    if (seq !== this.previewSeq) return;
    this.pending = { kind: this.kind, value, minOut };
    show(`${text} ${this.whenItSettles()}`, false, true, this.gist(value, preview.value, minOut, preview.fresh));
  }

  /** The preview in one line: what you pay, what you get (and at least), when; at which price, if not one on-chain. */
  gist(value, out, minOut, fresh = null) {
    const s = this.state;
    const when = this.pull ? "at the next Pyth price, seconds after you send it" : "at the next oracle round";
    const tokens = (v, unit) => `${fmt(v, 18, 2)} ${unit}`;
    let line;
    if (this.kind === "mint" || this.kind === "lp_deposit") {
      const unit = this.kind === "mint" ? this.symbol : "LP shares";
      line = `Pay ${this.money(value + s.settleFee)}, get about ${tokens(out, unit)} (at least ${tokens(minOut, unit)}), ${when}.`;
      if (this.kind === "mint" && s.maxMint !== null && value > s.maxMint) line += ` Only ${this.money(s.maxMint)} fits now.`;
    } else {
      const unit = this.kind === "redeem" ? this.symbol : "LP shares";
      line = `Get about ${this.money(out)} (at least ${this.money(minOut)}) for ${tokens(value, unit)}, ${when}.`;
    }
    if (fresh) line += ` Previewed at Pyth's latest price, ${duration(BigInt(this.headTime) - fresh.publishTime)} old.`;
    return line;
  }

  say(text, kind = "") {
    const line = $(".progress", this.form);
    line.textContent = text;
    line.className = `progress ${kind}`;
  }

  async request() {
    if (!rightChain() || !this.pending || this.busy) return;
    const { kind, value, minOut } = this.pending;
    this.busy = true;
    $(".request", this.form).disabled = true;
    const say = (text) => this.say(text);
    try {
      const me = wallet.account;
      const now = (await reader.getBlock()).timestamp;
      const deadline = now + BigInt(config.deadline_seconds);
      let fn = `request_${kind}`;
      let args = [value, minOut, me, deadline];
      if (ENTRY.has(kind)) {
        const total = value + this.state.settleFee;
        const allowance = await read(this.collateral, "collateral", "allowance", [me, this.book]);
        if (allowance < total) {
          // The book checks everything else before it takes the collateral: a plain request that fails
          // only for the missing allowance is one the permit (or approval) makes work. Ask nothing before.
          try {
            await reader.simulateContract({ address: this.book, abi: data.abis.book, functionName: fn, args, account: me });
          } catch (error) {
            if (revertReason(error) !== "erc20: insufficient allowance") throw error;
          }
          const domain = await permitDomain(this.collateral);
          if (domain) {
            say(`Sign the permit in your wallet: the order book may take ${this.money(total)} (the amount plus the settle fee), once.`);
            const nonce = await read(this.collateral, "collateral", "nonces", [me]);
            const signature = await wallet.client.signTypedData({
              account: me,
              domain,
              types: PERMIT_TYPES,
              primaryType: "Permit",
              message: { owner: me, spender: this.book, value: total, nonce, deadline },
            });
            const { r, s, v, yParity } = parseSignature(signature);
            fn += "_with_permit";
            args = [...args, Number(v ?? BigInt(yParity + 27)), r, s];
          } else {
            say(`Approve ${this.money(total)} for the order book in your wallet (this collateral takes no permit) ...`);
            await send(this.collateral, "collateral", "approve", [this.book, total], say);
          }
        }
      }
      const receipt = await send(this.book, "book", fn, args, say);
      const [requested] = parseEventLogs({ abi: data.abis.book, logs: receipt.logs, eventName: "OrderRequested" });
      if (!requested) {
        // After a shutdown an exit settles in its request.
        const [settled] = parseEventLogs({ abi: data.abis.pool, logs: receipt.logs, eventName: "OrderSettled" });
        this.say(settled ? this.describe(KINDS[kind], settled.args) : "Done.", "done");
      } else {
        this.form.amount.value = "";
        await this.follow(requested.args, receipt.blockNumber);
      }
    } catch (error) {
      this.say(explain(error), "error");
    } finally {
      this.busy = false;
      refreshAll();
    }
  }

  /** Waits until the order settles, with one progress line; then shows what it got. */
  async follow(order, fromBlock) {
    const started = Date.now();
    for (;;) {
      const status = await read(this.book, "book", "order", [order.order_id]);
      if (status.status === ORDER_SETTLED) {
        const logs = await events(
          { address: this.pool, abi: data.abis.pool, eventName: "OrderSettled", args: { order_id: order.order_id } },
          fromBlock,
        );
        if (logs.length) {
          this.say(this.describe(order.kind, logs[0].args, order), "done");
          return;
        }
      }
      const elapsed = Math.floor((Date.now() - started) / 1000);
      const clock = `${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, "0")}`;
      this.say(`[${clock}] Order ${order.order_id} requested: ${await this.waiting(order)}`);
      await sleep(FOLLOW_MS);
    }
  }

  async waiting(order) {
    const now = (await reader.getBlock()).timestamp;
    if (this.pull) {
      if (now < order.not_before) return `waiting for its price time (${duration(order.not_before - now)} of chain time left).`;
      return "its price is out: a keeper is settling it.";
    }
    if (now < order.not_before) return `waiting for its earliest round time (${duration(order.not_before - now)} of chain time left).`;
    const [roundId, , , updatedAt] = await read(this.feed, "feed", "latestRoundData");
    // After a switch to a new aggregator its rounds price the orders of the old phase too.
    if (roundId >> 64n >= order.phase && updatedAt >= order.not_before) return "its round is out: a keeper is settling it.";
    if (now > order.not_before + order.max_wait) return "no round came in time: it is void and will be refunded in full.";
    return "waiting for the next oracle round.";
  }

  /** What a settled order got, as the CLI says it; with the order, why it got less than it asked. */
  /** What a settled order did, in one plain sentence: what you received, for what, at what price. */
  headline(kind, log) {
    const tokens = (v) => `${fmt(v, 18, 2)} ${kind === 1n || kind === 2n ? this.symbol : "LP shares"}`;
    const paid = ENTRY.has(this.kindName(kind)) ? this.money(log.filled) : tokens(log.filled);
    const got = kind === 1n || kind === 3n ? tokens(log.out) : this.money(log.out);
    const back = ENTRY.has(this.kindName(kind)) ? this.money(log.refunded) : tokens(log.refunded);
    if (log.outcome === 4n) return `Void: ${back} came back, settle fee included.`;
    if (log.outcome === 3n) return `Nothing was filled: ${back} came back.`;
    const at = log.round_id ? `at ETH ${fmt(log.price, 18)}` : `at the fixed NAV ${fmt(log.nav, 18, 4)}`;
    const rest = log.outcome === 2n ? ` The rest, ${back}, came back.` : "";
    return `You received ${got} for ${paid} ${at}.${rest}`;
  }

  describe(kind, log, order = null) {
    return `${this.headline(kind, log)} ${this.details(kind, log, order)}`;
  }

  /** The settlement in full: the order, its price and where it came from, amounts to the last unit. */
  details(kind, log, order = null) {
    const outcome = data.outcomes[String(log.outcome)] ?? String(log.outcome);
    let priced;
    if (!log.round_id)
      priced = log.outcome === 4n ? (this.pull ? "no price could be had" : "no round came in time") : `at the fixed NAV ${fmt(log.nav, 18, 6)}`;
    else if (this.pull) {
      // A pull price's round id is its publish time.
      const at = new Date(Number(log.round_id) * 1000).toISOString().replace("T", " ").replace(".000Z", " UTC");
      priced =
        log.outcome === 4n
          ? `the first price after its time, published ${at}, came late or was invalid`
          : `at the Pyth price published ${at}: ${fmt(log.price, 18)}, NAV ${fmt(log.nav, 18, 6)}`;
    } else {
      const round = `round ${log.round_id & (2n ** 64n - 1n)} of phase ${log.round_id >> 64n}`;
      priced = `at ${round}: price ${fmt(log.price, 18)}, NAV ${fmt(log.nav, 18, 6)}`;
    }
    const amountIn = (v) => (ENTRY.has(this.kindName(kind)) ? this.money(v) : `${fmt(v, 18, 6)} ${kind === 2n ? this.symbol : "LP shares"}`);
    const amountOut = (v) =>
      kind === 1n ? `${fmt(v, 18, 6)} ${this.symbol}` : kind === 3n ? `${fmt(v, 18, 6)} LP shares` : this.money(v);
    let text = `Order ${log.order_id}: ${outcome}, ${priced}. Filled ${amountIn(log.filled)}, got ${amountOut(log.out)}`;
    // What came back is what was paid in (a void entry's refund includes the settle fee).
    if (log.refunded) text += `, refunded ${amountIn(log.refunded)}`;
    text += `; settle fee ${this.money(log.settle_fee)}.`;
    const why = order && this.refundReason(order, log);
    return why ? `${text} Why: ${why}.` : text;
  }

  /** Why an order was refunded or partly filled, and what to do (`inverse.wallet.refund_reason`). */
  refundReason(order, log) {
    if (log.outcome !== 2n && log.outcome !== 3n) return null; // partly filled, refunded
    const wider = "ask again with a wider slippage bound (the Slippage bound field)";
    const scale = 10n ** (36n - BigInt(this.decimals)); // tokens * NAV / scale = collateral
    const nav = fmt(log.nav, 18, 6);
    if (order.kind === 1n) {
      if (log.nav === 0n) return "the NAV was 0 at its price: the market takes no mints until it restarts";
      const fee = (order.amount * order.trade_fee + WAD - 1n) / WAD;
      const tokens = ((order.amount - fee) * scale) / log.nav;
      if (log.outcome === 3n && tokens < order.min_out)
        return `at its price the NAV was ${nav} per token, so it would have got ${fmt(tokens, 18, 6)} tokens; your bound was ${fmt(order.min_out, 18, 6)}: ${wider}`;
      const part = log.outcome === 2n ? "only part of it (the rest came back)" : "none of it";
      return `the LPs' backing had room for ${part} at its price: see the mint capacity above, or try later`;
    }
    if (order.kind === 2n) {
      const worth = this.money((order.amount * log.nav) / scale);
      if (order.min_out) return `at its price the NAV was ${nav}, so the tokens were worth ${worth} before fees; your bound was ${this.money(order.min_out)}: ${wider}`;
      return `the tokens were worth ${worth} at its price, less than the settle fee: redeem a larger amount`;
    }
    if (order.kind === 3n) return `at its price's LP value it would have got fewer LP shares than your bound: ${wider}`;
    if (log.outcome === 2n)
      return "the backing rule (holders' tokens stay backed) let LPs take only part of it at its price; the rest of your shares came back: withdraw them later";
    return `the backing rule (holders' tokens stay backed) or your slippage bound stopped it at its price: ${wider}, or withdraw less`;
  }

  kindName(kind) {
    return Object.keys(KINDS).find((k) => KINDS[k] === kind);
  }

  async claim() {
    try {
      const owed = this.state.claimable;
      await send(this.pool, "pool", "claim", [], (text) => this.say(text));
      this.say(`Claimed ${this.money(owed)}.`, "done");
    } catch (error) {
      this.say(explain(error), "error");
    }
    refreshAll();
  }

  /** Profit or loss of your tokens and of your LP shares, from your settled orders:
   * what they are worth now plus what exits paid you, less what entries cost you
   * (settle fees included). Shares moved outside orders are not counted. */
  renderResults(orders, settled, me) {
    const mine = (address) => address.toLowerCase() === me.toLowerCase();
    const sides = { tokens: { paid: 0n, got: 0n, seen: false }, lp: { paid: 0n, got: 0n, seen: false } };
    for (const [id, order] of orders) {
      const log = settled.get(id);
      if (!log) continue;
      const side = sides[order.kind === 1n || order.kind === 2n ? "tokens" : "lp"];
      const entry = order.kind === 1n || order.kind === 3n;
      if (entry && mine(order.receiver)) side.paid += log.filled;
      if (!entry && mine(order.receiver)) side.got += log.out;
      if (entry && mine(order.requester)) side.paid += log.settle_fee;
      side.seen ||= log.filled > 0n;
    }
    for (const [name, worth] of [["tokens", this.state.tokensWorth], ["lp", this.state.lpWorth]]) {
      const side = sides[name];
      const row = $(`.result-row[data-side="${name}"]`, this.element);
      row.hidden = !side.seen || worth === null || worth === undefined;
      if (row.hidden) continue;
      const result = worth + side.got - side.paid;
      const sign = result >= 0n ? "+" : "−";
      const abs = result >= 0n ? result : -result;
      const pct = side.paid > 0n ? ` (${sign}${(Number((abs * 10_000n) / side.paid) / 100).toFixed(2)}%)` : "";
      this.field(`${name}_result`).textContent =
        `${sign}${this.money(abs)}${pct}: paid ${this.money(side.paid)}, got back ${this.money(side.got)}, ` +
        `worth ${this.money(worth)} now`;
    }
  }

  /** The account's orders (by it or to it), newest first, each with where it stands. */
  async renderOrders() {
    const me = wallet.account;
    const fromBlock = BigInt(config.manifest.block);
    const query = (args) => events({ address: this.book, abi: data.abis.book, eventName: "OrderRequested", args }, fromBlock);
    const [byMe, toMe] = await Promise.all([query({ requester: me }), query({ receiver: me })]);
    const orders = new Map([...byMe, ...toMe].map((log) => [log.args.order_id, log.args]));
    const ids = [...orders.keys()];
    const settled = new Map();
    if (ids.length) {
      const logs = await events({ address: this.pool, abi: data.abis.pool, eventName: "OrderSettled", args: { order_id: ids } }, fromBlock);
      for (const log of logs) settled.set(log.args.order_id, log.args);
    }
    this.renderResults(orders, settled, me);
    const now = (await reader.getBlock()).timestamp;
    const body = $(".orders tbody", this.element);
    body.replaceChildren();
    for (const id of ids.sort((a, b) => (a < b ? 1 : -1))) {
      const order = orders.get(id);
      const kind = this.kindName(order.kind);
      const unit = ENTRY.has(kind) ? this.money(order.amount) : `${fmt(order.amount, 18, 4)} ${kind === "redeem" ? this.symbol : "LP shares"}`;
      const log = settled.get(id);
      let where;
      if (log) {
        const rest = this.details(order.kind, log, order).split(": ").slice(1).join(": "); // without "Order N: "
        where = `${this.headline(order.kind, log)} ${rest[0].toUpperCase()}${rest.slice(1)}`;
      }
      else if (now < order.not_before) where = `pending: earliest round in ${duration(order.not_before - now)}; void if no round by ${chainTime(order.not_before + order.max_wait)}`;
      else where = `pending: waiting for its round or a keeper; void if no round by ${chainTime(order.not_before + order.max_wait)}`;
      const row = document.createElement("tr");
      for (const text of [`#${id}`, `${data.kinds[String(order.kind)]} ${unit}`, where]) {
        const cell = document.createElement("td");
        cell.textContent = text;
        row.append(cell);
      }
      body.append(row);
    }
    if (!ids.length) body.innerHTML = `<tr><td colspan="3" class="muted">No orders yet.</td></tr>`;
  }

  // -------------------------------------------------------------- chart

  async readPoints() {
    const head = await reader.getBlockNumber();
    if (head < this.eventsFrom) return;
    const logs = await events({ address: this.pool, abi: data.abis.pool }, this.eventsFrom, head);
    this.eventsFrom = head + 1n;
    const priced = logs.filter((log) => (log.eventName === "Rebalance" || log.eventName === "OrderSettled") && log.args.price > 0n);
    const earning = logs.filter((log) => ["Mint", "Redeem", "Rebalance"].includes(log.eventName));
    const blocks = [...new Set([...priced, ...earning].map((log) => log.blockNumber))].filter((b) => !this.times.has(b));
    const found = await Promise.all(blocks.map((b) => reader.getBlock({ blockNumber: b })));
    for (const block of found) this.times.set(block.number, Number(block.timestamp));
    for (const log of priced) this.points.push([this.times.get(log.blockNumber), log.args.price, log.args.nav]);
    for (const log of earning) {
      const amount = log.eventName === "Rebalance" ? log.args.management_fee - log.args.bounty : log.args.fee;
      this.earned.push([this.times.get(log.blockNumber), amount]);
    }
  }

  /** What an LP earns (the last week's fees as a yearly rate on today's LP value)
   * and what an LP risks (what a 10% move shifts between LPs and holders), in a line each. */
  renderLpLines() {
    const s = this.state;
    const now = this.headTime;
    if (!s || s.lpValue === null || s.inverseValue === null || !now) return;
    const start = Math.max(now - 7 * 86_400, this.points.length ? this.points[0][0] : now);
    const days = (now - start) / 86_400;
    const fees = this.earned.filter(([t]) => t >= start).reduce((sum, [, amount]) => sum + amount, 0n);
    const span = days >= 2 ? `the last ${days.toFixed(1)} days` : `the last ${(days * 24).toFixed(0)} hours`;
    this.field("lp_earn").textContent =
      days < 1 / 24 || s.lpValue === 0n
        ? "not enough history yet"
        : `about ${((Number(fees) / Number(s.lpValue)) * (365 / days) * 100).toFixed(1)}% a year: ${this.money(fees)} over ${span} ` +
          "(mint and redeem fees and the management fee, less keeper bounties)";
    const shift = (s.inverseValue * this.leverage) / 10n ** 19n; // L x 10% of what holders own
    const share = s.lpValue > 0n ? ` (${((Number(shift) / Number(s.lpValue)) * 100).toFixed(1)}% of LP value)` : "";
    this.field("lp_risk").textContent =
      `a 10% fall in ETH moves about ${this.money(shift)}${share} from LPs to holders; a 10% rise, as much to LPs`;
  }

  drawChart() {
    const s = this.state;
    const points = [...this.points];
    if (s.price !== null && s.nav !== null) points.push([null, s.price, s.nav]);
    if (points.length < 2) {
      $(".drag", this.element).textContent = "The chart starts with the market's first settlements.";
      return;
    }
    const last = this.points.length ? this.points[this.points.length - 1][0] : 0;
    const now = Math.max(last, this.headTime ?? 0);
    const [, p0, n0] = points[0];
    const lev = Number(this.leverage) / 1e18;
    const xs = [];
    const navs = [];
    const naive = [];
    for (const [t, price, nav] of points) {
      xs.push(t ?? now);
      navs.push(Number(nav) / 1e18);
      const move = (Number(price) - Number(p0)) / Number(p0);
      naive.push(Math.max(0, (Number(n0) / 1e18) * (1 - lev * move)));
    }
    const gap = navs.at(-1) - naive.at(-1);
    $(".drag", this.element).innerHTML =
      `Now: NAV <b>${navs.at(-1).toFixed(4)}</b> against <b>${naive.at(-1).toFixed(4)}</b> for ${this.label} of ETH's move since launch ` +
      `(${gap >= 0 ? "+" : ""}${gap.toFixed(4)}). The pool resets its exposure to ${this.label} at each rebalance (daily, or on a large move), ` +
      `so returns compound day by day: if ETH rises 10% and falls back, a -1x token ends 1.8% lower and a -3x token 10.9% lower, ` +
      `though ETH is flat. That gap is <b>volatility drag</b>: it grows with leverage and with a choppy path, while a steady trend ` +
      `can turn it into a gain. These tokens are for a view on the next days, not the next year.`;
    const width = Math.max($(".chart", this.element).clientWidth, 300);
    if (!this.plot) {
      this.plot = new uPlot(
        {
          width,
          height: 260,
          series: [
            {},
            { label: `${this.symbol} NAV`, stroke: "#3056d3", width: 2 },
            { label: `naive ${this.label} × move`, stroke: "#d0612b", width: 2, dash: [6, 4] },
          ],
          axes: [{}, { label: "USDC per token" }],
          scales: { x: { time: true } },
          // The legend names the lines without a pointer over them (phones never hover).
          legend: { live: false },
        },
        [xs, navs, naive],
        $(".chart", this.element),
      );
    } else {
      this.plot.setData([xs, navs, naive]);
    }
  }
}

// ------------------------------------------------------------------ page

let refreshing = null;

function refreshAll() {
  if (!reader || !markets.length) return Promise.resolve();
  refreshing ??= (async () => {
    try {
      const block = await reader.getBlock();
      for (const m of markets) m.headTime = Number(block.timestamp);
      await Promise.all(markets.map((m) => m.refresh()));
      if (!wallet) banner("");
    } catch (error) {
      banner(`Cannot read the markets: ${explain(error)}`, "error");
    } finally {
      refreshing = null;
    }
  })();
  return refreshing;
}

async function loadMarkets() {
  const box = $("#markets");
  if (!reader) {
    $("#loading").textContent = "Connect a wallet on this network to see the markets.";
    return;
  }
  const list = config.manifest.markets.map((entry) => new Market(entry));
  await Promise.all(list.map((m) => m.load()));
  box.replaceChildren(...list.map((m) => m.element));
  markets.push(...list);
}

async function main() {
  const get = async (path) => {
    const response = await fetch(path, { cache: "no-store" });
    if (!response.ok) throw new Error(`${path}: ${response.status}`);
    return response.json();
  };
  [data, config] = await Promise.all([get("data.json"), get("config.json")]);
  chain = defineChain({
    id: config.chain_id,
    name: config.network,
    nativeCurrency: { name: "Ether", symbol: "ETH", decimals: 18 },
    rpcUrls: { default: { http: config.rpc ? [config.rpc] : [] } },
  });
  $("#network").textContent = `${config.network} · chain ${config.chain_id}`;
  if (config.rpc) reader = createPublicClient({ chain, transport: http(config.rpc, { batch: true }), pollingInterval: 500 });
  $("#faucet-button").addEventListener("click", faucet);
  discoverWallets();
  for (;;) {
    try {
      if (!markets.length) await loadMarkets();
      await refreshAll();
    } catch (error) {
      banner(`Cannot read the markets: ${explain(error)}`, "error");
    }
    await sleep(REFRESH_MS);
  }
}

async function faucet() {
  const m = markets[0];
  const status = $("#faucet-status");
  try {
    const amount = 10_000n * 10n ** BigInt(m.decimals);
    await send(m.collateral, "collateral", "mint", [wallet.account, amount], (text) => (status.textContent = text));
    status.textContent = `Done: 10,000 ${m.cashSymbol} in your wallet.`;
  } catch (error) {
    status.textContent = explain(error);
  }
  refreshAll();
}

main().catch((error) => banner(`The page could not start: ${error.message ?? error}`, "error"));
