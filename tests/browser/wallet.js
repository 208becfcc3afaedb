// A browser wallet for the tests: an EIP-1193 provider announced by EIP-6963, as
// MetaMask, Rabby or Frame announce theirs. It holds no key: every request goes to an
// Anvil node, whose dev accounts are unlocked, so Anvil signs the transactions
// (eth_sendTransaction) and the permits (eth_signTypedData_v4). Its settings come from
// `window.__testWallet` = { rpc, account, chainId, nodeChainId }; `chainId` may start
// on another chain, as a wallet left on mainnet would. Every method asked is logged in
// `window.__testWallet.log`.
(() => {
  const settings = window.__testWallet;
  settings.log = [];
  const listeners = {};
  let requestId = 0;
  const hex = (n) => `0x${n.toString(16)}`;
  const fail = (code, message) => Object.assign(new Error(message), { code });

  async function forward(method, params) {
    if (settings.chainId !== settings.nodeChainId) {
      throw fail(4901, `test wallet: no node for chain ${settings.chainId}`);
    }
    const response = await fetch(settings.rpc, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ jsonrpc: "2.0", id: ++requestId, method, params: params ?? [] }),
    });
    const body = await response.json();
    if (body.error) throw Object.assign(new Error(body.error.message), body.error);
    return body.result;
  }

  const provider = {
    async request({ method, params }) {
      settings.log.push(method);
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [settings.account];
        case "eth_chainId":
          return hex(settings.chainId);
        case "net_version":
          return String(settings.chainId);
        case "wallet_switchEthereumChain": {
          const wanted = parseInt(params[0].chainId, 16);
          if (wanted !== settings.nodeChainId) throw fail(4902, `test wallet: unknown chain ${wanted}`);
          settings.chainId = wanted;
          for (const listener of listeners.chainChanged ?? []) listener(hex(wanted));
          return null;
        }
        default:
          return forward(method, params);
      }
    },
    on(event, listener) {
      (listeners[event] ??= []).push(listener);
      return provider;
    },
    removeListener(event, listener) {
      listeners[event] = (listeners[event] ?? []).filter((l) => l !== listener);
      return provider;
    },
  };

  const info = {
    uuid: "6f1c56f8-3a46-4c1e-9d4b-0d7a8c3f2e11",
    name: "Test Wallet",
    icon: "data:image/svg+xml;utf8,<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'><rect width='16' height='16' rx='3' fill='%23888'/></svg>",
    rdns: "org.inverse-token.test-wallet",
  };
  const announce = () =>
    window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
  window.addEventListener("eip6963:requestProvider", announce);
  announce();
})();
