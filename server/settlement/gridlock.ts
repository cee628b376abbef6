/**
 * Which of a window's payments can settle. Each bank may end the window at most `limit` short (its
 * net debit cap, token balance or allowance to the netting contract, whichever is least); when
 * the whole window does not fit, payments wait for the next window.
 *
 * Finding the largest feasible subset is a multi-dimensional knapsack (NP-hard), so this is the
 * queue-based heuristic RTGS gridlock resolution uses (after Bech and Soramäki): payments are
 * ordered by priority then arrival; while a bank is over its limit, its last payment in that order
 * leaves, which helps that bank and can push only the payee over (checked next); then deferred
 * payments that fit again come back, in order. Each payment leaves at most once, so removal is
 * O(n log n); the order makes it deterministic: the same window always settles the same set.
 */

export interface Candidate {
  uetr: string;
  debtor: string;
  creditor: string;
  amount: bigint;
  priority: "high" | "normal";
  arrival: number;
}

export interface Capacity {
  /** The largest net debit the bank may end the window with (>= 0). */
  limit: bigint;
  /** What binds the limit, for the reason a payment is deferred: "net debit cap", "token balance", ... */
  binding: string;
}

/** A bank without a capacity entry may not end the window short (limit 0). */
export interface Selection<T extends Candidate> {
  included: T[];
  deferred: { payment: T; reason: string }[];
}

export function orderForSettlement<T extends Candidate>(payments: readonly T[]): T[] {
  const rank = (p: Candidate) => (p.priority === "high" ? 0 : 1);
  return [...payments].sort((a, b) => rank(a) - rank(b) || a.arrival - b.arrival || (a.uetr < b.uetr ? -1 : a.uetr > b.uetr ? 1 : 0));
}

export function selectSettleable<T extends Candidate>(
  payments: readonly T[],
  capacities: ReadonlyMap<string, Capacity>,
  unavailable: ReadonlyMap<string, string> = new Map(),
): Selection<T> {
  const deferred = new Map<T, string>();
  const eligible: T[] = [];
  for (const payment of orderForSettlement(payments)) {
    const why = unavailable.get(payment.debtor) ?? unavailable.get(payment.creditor);
    if (why !== undefined) deferred.set(payment, why);
    else eligible.push(payment);
  }

  const net = new Map<string, bigint>();
  const outgoing = new Map<string, T[]>();
  const add = (bic: string, amount: bigint) => net.set(bic, (net.get(bic) ?? 0n) + amount);
  for (const payment of eligible) {
    add(payment.debtor, -payment.amount);
    add(payment.creditor, payment.amount);
    const queue = outgoing.get(payment.debtor);
    if (queue) queue.push(payment);
    else outgoing.set(payment.debtor, [payment]);
  }
  const limitOf = (bic: string) => capacities.get(bic)?.limit ?? 0n;
  const over = (bic: string) => (net.get(bic) ?? 0n) < -limitOf(bic);

  const breaching = [...net.keys()].filter(over);
  while (breaching.length > 0) {
    const bic = breaching.pop()!;
    const queue = outgoing.get(bic) ?? [];
    while (over(bic) && queue.length > 0) {
      const payment = queue.pop()!;
      add(bic, payment.amount);
      add(payment.creditor, -payment.amount);
      const capacity = capacities.get(bic);
      deferred.set(payment, `${bic} would exceed its ${capacity?.binding ?? "limit"} of ${limitOf(bic)}`);
      if (over(payment.creditor) && !breaching.includes(payment.creditor)) breaching.push(payment.creditor);
    }
  }

  // Removing a bank's payments frees room elsewhere: bring back, in order, whatever fits now, and
  // again while one that came back (funding its payee) lets another fit. Each pass returns at
  // least one payment or ends, and a payment that returns never pushes anyone over.
  for (let returned = true; returned; ) {
    returned = false;
    for (const payment of eligible) {
      if (!deferred.has(payment)) continue;
      if ((net.get(payment.debtor) ?? 0n) - payment.amount < -limitOf(payment.debtor)) continue;
      add(payment.debtor, -payment.amount);
      add(payment.creditor, payment.amount);
      deferred.delete(payment);
      returned = true;
    }
  }

  return {
    included: eligible.filter((p) => !deferred.has(p)),
    deferred: orderForSettlement([...deferred.keys()]).map((payment) => ({ payment, reason: deferred.get(payment)! })),
  };
}
