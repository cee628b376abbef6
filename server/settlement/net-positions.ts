import type { NetPosition } from "../chain/typed-data";

export interface Obligation {
  debtor: string;
  creditor: string;
  token: string;
  amount: bigint;
}

/**
 * Multilateral net positions of a set of obligations, in exact integer arithmetic: one entry per
 * bank and token whose net is not zero, negative for net payers. Sorted by token, then bank, by
 * address value, which is the order NettingSettlement requires. Each token's positions sum to zero.
 */
export function computeNetPositions(obligations: Iterable<Obligation>): NetPosition[] {
  const nets = new Map<string, NetPosition>();
  const add = (bank: string, token: string, amount: bigint) => {
    const key = `${token.toLowerCase()}/${bank.toLowerCase()}`;
    const position = nets.get(key);
    if (position) position.amount += amount;
    else nets.set(key, { bank, token, amount });
  };
  for (const { debtor, creditor, token, amount } of obligations) {
    if (amount <= 0n) throw new RangeError(`obligation amount must be positive, got ${amount}`);
    add(debtor, token, -amount);
    add(creditor, token, amount);
  }
  return [...nets.values()].filter((p) => p.amount !== 0n).sort(compareByTokenThenBank);
}

function compareByTokenThenBank(a: NetPosition, b: NetPosition): number {
  return compareAddresses(a.token, b.token) || compareAddresses(a.bank, b.bank);
}

function compareAddresses(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}
