import { minorUnitsToDecimal } from "../../server/iso20022/amounts";
import { demoApi } from "./demo-api";
import type { CorridorContracts } from "./deploy";
import type { DemoBank } from "./demo";
import type { DemoKeys } from "./demo-relay";

/**
 * The demo's settlement window, run through the relay's HTTP API as a bank's and treasury's
 * systems would: the demo banks send net payments to each other, treasury closes their window, the
 * relay signs the debtor banks' approvals (it holds the demo keys) and settles the net positions
 * with NettingSettlement, and one payment's inclusion proof is checked on chain with verifyPayment.
 */

/** Net payments among the six demo banks, by index into DEMO_BANKS: [debtor, creditor, minor units]. */
const DEMO_NET_PAYMENTS: readonly [number, number, bigint][] = [
  [0, 1, 1_250_000n],
  [1, 2, 980_000n],
  [2, 0, 1_100_000n],
  [3, 4, 450_000n],
  [4, 5, 720_000n],
  [5, 3, 610_000n],
  [1, 0, 300_000n],
  [2, 3, 275_000n],
  [4, 1, 830_000n],
  [5, 0, 190_000n],
  [0, 4, 640_000n],
  [3, 2, 515_000n],
];

export interface DemoWindowResult {
  windowId: string;
  currency: string;
  paymentCount: number;
  grossTotal: bigint;
  netTotal: bigint;
  txHash: string;
  /** The payment whose inclusion proof was checked on chain, and the answer of verifyPayment. */
  provenPayment: string;
  proofVerified: boolean;
}

interface WindowJson {
  id: string;
  state: string;
  sequence: number;
  paymentCount: number;
  grossTotal: string;
  netTotal: string;
  netToGrossBps: number | null;
  txHash: string | null;
  blockNumber: number | null;
  failureReason: string | null;
  includedPayments: string[];
}

interface ProofJson {
  chainWindowId: string;
  leaf: { uetr: string; debtor: string; creditor: string; token: string; amount: string };
  proof: string[];
  txHash: string | null;
}

export async function runDemoWindow(options: {
  relayUrl: string;
  keys: DemoKeys;
  banks: readonly DemoBank[];
  netting: CorridorContracts["netting"];
  currency?: string;
  timeoutMs?: number;
  log?: (line: string) => void;
}): Promise<DemoWindowResult> {
  const { relayUrl, keys, banks, netting } = options;
  const currency = options.currency ?? "EUR";
  const log = options.log ?? (() => undefined);
  const deadline = Date.now() + (options.timeoutMs ?? 90_000);

  const call = demoApi(relayUrl);

  log(`\nCorridor: demo settlement window, ${DEMO_NET_PAYMENTS.length} net ${currency} payments among the demo banks…`);
  const sent: { uetr: string; windowId: string; debtor: string }[] = [];
  for (const [n, [from, to, amount]] of DEMO_NET_PAYMENTS.entries()) {
    const debtor = banks[from].bic;
    const payment = await call<{ uetr: string; status: string; windowId: string }>("POST", "/v1/payments", keys.banks[debtor], {
      endToEndId: `DEMO-NET-${String(n + 1).padStart(2, "0")}`,
      debtorAgent: { bic: debtor },
      creditorAgent: { bic: banks[to].bic },
      amount: { value: amount.toString(), currency },
      settlement: "net",
    });
    if (payment.status !== "QUEUED" || !payment.windowId) throw new Error(`payment ${payment.uetr} is ${payment.status}, not QUEUED in a window`);
    sent.push({ uetr: payment.uetr, windowId: payment.windowId, debtor });
  }
  // All join the currency's open window, unless its schedule (WINDOW_INTERVAL_SECONDS) closed it
  // meanwhile: then the last payments are in the next one, which is the one closed here.
  const windowId = sent[sent.length - 1].windowId;
  const closedBy = await call<WindowJson>("POST", `/v1/windows/${windowId}/close`, keys.treasury).then(
    () => "treasury",
    async (error: Error) => {
      // Closed on schedule between the last payment and now: it settles all the same.
      const window = await call<WindowJson>("GET", `/v1/windows/${windowId}`, keys.treasury);
      if (window.state === "OPEN") throw error;
      return "its schedule";
    },
  );
  const joined = sent.filter((p) => p.windowId === windowId).length;
  log(`  window   ${windowId} closed by ${closedBy} with ${joined} payments; the relay signs the debtor banks' approvals`);

  let window: WindowJson;
  for (;;) {
    window = await call<WindowJson>("GET", `/v1/windows/${windowId}`, keys.treasury);
    if (window.state === "SETTLED") break;
    if (window.state === "FAILED") throw new Error(`window ${windowId} failed: ${window.failureReason}`);
    if (Date.now() > deadline) throw new Error(`window ${windowId} still ${window.state} after ${options.timeoutMs ?? 90_000} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }

  // A payment of the window, its proof fetched with its debtor bank's key and checked on chain.
  const proven = sent.find((p) => p.windowId === windowId && window.includedPayments.includes(p.uetr)) ?? sent[sent.length - 1];
  const proof = await call<ProofJson>("GET", `/v1/payments/${proven.uetr}/proof`, keys.banks[proven.debtor]);
  const proofVerified = await netting.verifyPayment(proof.chainWindowId, { ...proof.leaf, amount: BigInt(proof.leaf.amount) }, proof.proof);

  const grossTotal = BigInt(window.grossTotal);
  const netTotal = BigInt(window.netTotal);
  const saving = grossTotal === 0n ? 0 : Number(((grossTotal - netTotal) * 1000n) / grossTotal) / 10;
  log(`  settled  window ${windowId} (${currency} #${window.sequence}): ${window.paymentCount} payments`);
  log(`  gross    ${minorUnitsToDecimal(grossTotal, currency)} ${currency}, net ${minorUnitsToDecimal(netTotal, currency)} ${currency} moved on chain (${saving}% less)`);
  log(`  tx       ${window.txHash} (block ${window.blockNumber})`);
  log(`  proof    payment ${proven.uetr}: proof verified on chain: ${proofVerified}`);
  return {
    windowId,
    currency,
    paymentCount: window.paymentCount,
    grossTotal,
    netTotal,
    txHash: window.txHash ?? "",
    provenPayment: proven.uetr,
    proofVerified,
  };
}
