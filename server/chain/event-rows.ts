import { getAddress, type EventFragment, type Log } from "ethers";
import type { Db } from "../db/database";
import type { ChainEventsTable } from "../db/schema";
import { depositTokenInterface, escrowInterface, nettingInterface } from "./contracts";
import { windowIdFromChain } from "../settlement/window-store";
import { movementIdFromEvidence } from "./evidence";
import type { FundsObservation } from "./funds-hooks";
import { bytes16ToUetr } from "./typed-data";

/**
 * The events the indexer follows, as `chain_events` rows: the escrow's Locked, Released and
 * Refunded (uetr: the payment's UETR), every deposit token's Minted and Burned (uetr: the funds
 * movement named by the evidence, null for foreign evidence) and NettingSettlement's WindowSettled
 * (uetr: the settlement window's id). Besides the decoded arguments (JSON),
 * a row keeps the block's time and, where known, the amount in minor units and the token's address,
 * so that reconciliation reads columns. Addresses are checksummed (EIP-55), in the columns and in
 * the JSON alike; compare them case-insensitively.
 */

export type EventName = "Locked" | "Released" | "Refunded" | "Minted" | "Burned" | "WindowSettled";

const EVENT_FRAGMENTS: readonly EventFragment[] = [
  ...(["Locked", "Released", "Refunded"] as const).map((name) => escrowInterface.getEvent(name)!),
  ...(["Minted", "Burned"] as const).map((name) => depositTokenInterface.getEvent(name)!),
  nettingInterface.getEvent("WindowSettled")!,
];
/** Every followed event's topic, for one eth_getLogs over the escrow and the tokens. */
export const EVENT_TOPICS: readonly string[] = EVENT_FRAGMENTS.map((fragment) => fragment.topicHash);
// Interface.parseLog would look the event up by hashing every event signature of the ABI, per log.
const FRAGMENT_BY_TOPIC = new Map(EVENT_FRAGMENTS.map((fragment) => [fragment.topicHash, fragment]));

/**
 * The row of a followed event's log, mined in a block of time `blockTimeMs`. A Released or Refunded
 * row does not carry its payment's amount and token yet: see `withLockAmount`.
 */
export function toEventRow(log: Log, blockTimeMs: number): ChainEventsTable {
  const fragment = FRAGMENT_BY_TOPIC.get(log.topics[0])!;
  const args = decodeStaticEventArgs(fragment, log);
  return {
    id: `${log.blockHash}:${log.index}`,
    block_number: log.blockNumber,
    block_hash: log.blockHash,
    tx_hash: log.transactionHash,
    log_index: log.index,
    name: fragment.name,
    args: JSON.stringify(args),
    block_time: blockTimeMs,
    ...keyAndAmount(fragment.name as EventName, args, log.address),
  };
}

function keyAndAmount(name: EventName, args: Record<string, string>, emitter: string): Pick<ChainEventsTable, "uetr" | "amount" | "token"> {
  if (name === "WindowSettled") return { uetr: windowIdFromChain(args.windowId), amount: null, token: null };
  if (name === "Minted" || name === "Burned") {
    return { uetr: movementIdFromEvidence(args.evidence), amount: args.amount, token: getAddress(emitter) };
  }
  const uetr = bytes16ToUetr(args.uetr);
  return name === "Locked" ? { uetr, amount: args.amount, token: args.token } : { uetr, amount: null, token: null };
}

/**
 * Released and Refunded carry only the UETR: their amount and token are the lock's, read from its
 * stored row (null when the lock was never indexed, e.g. mined before the indexer's first block).
 */
export async function withLockAmount(q: Db, row: ChainEventsTable): Promise<ChainEventsTable> {
  if (row.name !== "Released" && row.name !== "Refunded") return row;
  const lock = await q
    .selectFrom("chain_events")
    .select(["amount", "token"])
    .where("uetr", "=", row.uetr!)
    .where("name", "=", "Locked")
    .executeTakeFirst();
  return { ...row, amount: lock?.amount ?? null, token: lock?.token ?? null };
}

/** A stored Minted or Burned row whose evidence names a funds movement, as the funds hooks see it. */
export function fundsObservation(row: ChainEventsTable): FundsObservation {
  const args = JSON.parse(row.args) as { to?: string; from?: string };
  return {
    movementId: row.uetr!,
    txHash: row.tx_hash,
    blockNumber: Number(row.block_number),
    token: row.token!,
    account: (row.name === "Minted" ? args.to : args.from)!,
    amount: BigInt(row.amount!),
  };
}

/**
 * An event's arguments as strings (as String() of ethers' decoded values gives them), for events
 * whose inputs are all static types, one 32-byte word each: in the topics when indexed, else in the
 * data in order. The followed events are all such; ethers' general decoder costs several times more
 * per log, and the indexer decodes every payment's events.
 */
export function decodeStaticEventArgs(fragment: EventFragment, log: { topics: readonly string[]; data: string }): Record<string, string> {
  const args: Record<string, string> = {};
  let topic = 1;
  let offset = 2; // past "0x"
  for (const input of fragment.inputs) {
    let word: string;
    if (input.indexed) {
      word = log.topics[topic++];
    } else {
      word = `0x${log.data.slice(offset, offset + 64)}`;
      offset += 64;
    }
    if (word.length !== 66) throw new Error(`${fragment.name}: the log is too short for ${input.name}`);
    args[input.name] = staticWordToString(input.type, word.toLowerCase());
  }
  return args;
}

function staticWordToString(type: string, word: string): string {
  if (type === "address") return getAddress(`0x${word.slice(26)}`);
  if (/^uint\d*$/.test(type)) return BigInt(word).toString();
  const fixedBytes = /^bytes(\d+)$/.exec(type);
  if (fixedBytes) return word.slice(0, 2 + 2 * Number(fixedBytes[1]));
  throw new Error(`no static decoding for ${type}`);
}
