import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, truncateSync, writeSync } from "node:fs";
import path from "node:path";
import { Signature, Transaction } from "ethers";

/**
 * The embedded node's chain, kept across restarts. Hardhat 2 cannot save its state, so every mined
 * block is appended to a journal (its number, timestamp, hash and raw signed transactions) and a
 * later start replays them on a new node: the same genesis (initialDate), then for each block the
 * same timestamp and transactions in the same order, mined one block at a time. The node's
 * block randomness (prevrandao, beacon root) is seeded, so the replayed blocks get the very same
 * hashes, which the relay's indexer relies on (it stores block hashes to notice reorganizations);
 * each replayed hash is checked against the journal. hardhat_mine is not used to mine empty runs
 * faster: its reserved blocks hash differently from blocks mined one at a time.
 *
 * The file is NDJSON: a first line {"genesis":{chainId,t,h}}, then one line per block
 * {"n","t","h","txs"?}. Each batch is appended and fsynced, so a kill loses at most the blocks of
 * the last poll; a torn last line is ignored (and cut off before appending again).
 */

/** The part of an EIP-1193 provider the journal uses: hre.network.provider, or the node's. */
export interface Eip1193 {
  request(args: { method: string; params?: unknown[] }): Promise<unknown>;
}

export interface JournalGenesis {
  chainId: string;
  /** Seconds. */
  t: number;
  h: string;
}

export interface JournalBlock {
  n: number;
  t: number;
  h: string;
  txs?: string[];
}

export interface ChainJournal {
  genesis: JournalGenesis;
  blocks: JournalBlock[];
  /** Bytes of the file up to the end of the last whole line (what survives a torn write). */
  validBytes: number;
  /** Set when the running node's chain stopped being replayable (e.g. an evm_revert). */
  broken?: string;
}

export class JournalMismatchError extends Error {}

interface RpcBlock {
  number: string;
  timestamp: string;
  hash: string;
  parentHash: string;
  transactions: RpcTransaction[];
}

interface RpcTransaction {
  hash: string;
  type: string;
  chainId?: string;
  nonce: string;
  gas: string;
  to: string | null;
  value: string;
  input: string;
  gasPrice?: string;
  maxFeePerGas?: string;
  maxPriorityFeePerGas?: string;
  accessList?: { address: string; storageKeys: string[] }[];
  r: string;
  s: string;
  v: string;
  yParity?: string;
}

/** Reads a journal; undefined when there is none or its genesis line is missing or torn. */
export function readJournal(file: string): ChainJournal | undefined {
  if (!existsSync(file)) return undefined;
  const text = readFileSync(file, "utf8");
  let journal: ChainJournal | undefined;
  let offset = 0;
  for (;;) {
    const end = text.indexOf("\n", offset);
    if (end < 0) break; // a last line without its newline is a torn write
    let line: { genesis?: JournalGenesis; broken?: string } & Partial<JournalBlock>;
    try {
      line = JSON.parse(text.slice(offset, end));
    } catch {
      break;
    }
    offset = end + 1;
    if (line.genesis) journal = { genesis: line.genesis, blocks: [], validBytes: 0 };
    else if (!journal) return undefined;
    else if (line.broken) journal.broken = line.broken;
    else journal.blocks.push({ n: line.n!, t: line.t!, h: line.h!, txs: line.txs });
    journal.validBytes = offset;
  }
  return journal;
}

/** The signed transaction as it was sent, rebuilt from the node's JSON (Hardhat has no eth_getRawTransactionByHash). */
export function rawTransaction(tx: RpcTransaction): string {
  const type = Number(tx.type);
  if (type > 2) throw new Error(`transaction ${tx.hash} is of type ${type}, which the journal does not rebuild`);
  const signature = Signature.from(type === 0 ? { r: tx.r, s: tx.s, v: BigInt(tx.v) } : { r: tx.r, s: tx.s, yParity: Number(tx.yParity ?? tx.v) as 0 | 1 });
  const rebuilt = Transaction.from({
    type,
    // A legacy transaction's chain id is folded into v (EIP-155).
    chainId: tx.chainId !== undefined ? BigInt(tx.chainId) : signature.legacyChainId ?? 0n,
    nonce: Number(tx.nonce),
    gasLimit: BigInt(tx.gas),
    to: tx.to,
    value: BigInt(tx.value),
    data: tx.input,
    gasPrice: type === 2 ? undefined : BigInt(tx.gasPrice!),
    maxFeePerGas: type === 2 ? BigInt(tx.maxFeePerGas!) : undefined,
    maxPriorityFeePerGas: type === 2 ? BigInt(tx.maxPriorityFeePerGas!) : undefined,
    accessList: type === 0 ? undefined : tx.accessList,
    signature,
  });
  if (rebuilt.hash !== tx.hash) throw new Error(`transaction ${tx.hash} could not be rebuilt exactly (got ${rebuilt.hash})`);
  return rebuilt.serialized;
}

const hex = (n: number) => `0x${n.toString(16)}`;

async function blockAt(provider: Eip1193, n: number, full: boolean): Promise<RpcBlock> {
  return (await provider.request({ method: "eth_getBlockByNumber", params: [hex(n), full] })) as RpcBlock;
}

export interface JournalRecorder {
  /** Journals the blocks mined since the last poll now (the stop path and tests). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Appends each block the node mines to the journal, polling every `pollMs`. A fresh journal
 * starts with the genesis block; a resumed one continues after `resume` (the last replayed block).
 */
export async function recordJournal(options: {
  provider: Eip1193;
  file: string;
  resume?: ChainJournal;
  pollMs?: number;
  warn?: (line: string) => void;
}): Promise<JournalRecorder> {
  const { provider, file } = options;
  const warn = options.warn ?? (() => undefined);
  let last: { n: number; h: string };
  if (options.resume) {
    truncateSync(file, options.resume.validBytes);
    const tip = options.resume.blocks.at(-1);
    last = tip ? { n: tip.n, h: tip.h } : { n: 0, h: options.resume.genesis.h };
  } else {
    const genesis = await blockAt(provider, 0, false);
    const chainId = BigInt((await provider.request({ method: "eth_chainId" })) as string).toString();
    mkdirSync(path.dirname(file), { recursive: true });
    closeSync(openSync(file, "w"));
    appendLines(file, [{ genesis: { chainId, t: Number(genesis.timestamp), h: genesis.hash } }]);
    last = { n: 0, h: genesis.hash };
  }
  let broken = false;

  async function poll(): Promise<void> {
    if (broken) return;
    const head = Number(await provider.request({ method: "eth_blockNumber" }));
    const lines: object[] = [];
    try {
      if (head < last.n) throw new Error(`the chain went back from block ${last.n} to ${head}`);
      for (let n = last.n + 1; n <= head; n++) {
        const block = await blockAt(provider, n, true);
        if (block.parentHash !== last.h) throw new Error(`block ${n - 1} was replaced`);
        const txs = block.transactions.map(rawTransaction);
        lines.push(txs.length > 0 ? { n, t: Number(block.timestamp), h: block.hash, txs } : { n, t: Number(block.timestamp), h: block.hash });
        last = { n, h: block.hash };
      }
    } catch (error) {
      // Something rewrote the chain (evm_revert, hardhat_reset, a state override): a replay of
      // the journal could not rebuild it, so it is marked and the next start begins afresh.
      broken = true;
      const reason = error instanceof Error ? error.message : String(error);
      lines.push({ broken: reason });
      warn(`Warning: the chain journal stops here (${reason}); the next start will need --fresh`);
    }
    if (lines.length > 0) appendLines(file, lines);
  }

  // Polls run one at a time (a flush waits for the timer's poll), or a block would be written twice.
  let queue: Promise<void> = Promise.resolve();
  const run = (): Promise<void> => {
    const next = queue.then(poll);
    queue = next.catch((error) => warn(`Warning: chain journal: ${error instanceof Error ? error.message : String(error)}`));
    return next;
  };
  const pollMs = options.pollMs ?? 200;
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    void run()
      .catch(() => undefined) // warned in run
      .finally(() => {
        if (timer) timer = setTimeout(tick, pollMs);
      });
  };
  timer = setTimeout(tick, pollMs);
  return {
    flush: run,
    async stop() {
      clearTimeout(timer);
      timer = undefined;
      await run();
    },
  };
}

/** Append + fsync: a batch is on disk before the next poll. */
function appendLines(file: string, lines: object[]): void {
  const fd = openSync(file, "a");
  try {
    writeSync(fd, lines.map((line) => JSON.stringify(line)).join("\n") + "\n");
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Mines the journal's blocks again on a node started with the journal's genesis date: each
 * block's timestamp, its transactions in order (the node's mempool must be FIFO), one evm_mine,
 * and the resulting hash compared with the journal's. Automine and interval mining are left off.
 */
export async function replayJournal(provider: Eip1193, journal: ChainJournal, progress: (done: number, total: number) => void): Promise<void> {
  const send = (method: string, params: unknown[] = []) => provider.request({ method, params });
  if (journal.broken) throw new JournalMismatchError(`the previous run's chain cannot be replayed: ${journal.broken}`);
  const genesis = await blockAt(provider, 0, false);
  if (genesis.hash !== journal.genesis.h) {
    throw new JournalMismatchError(`the node's genesis block ${genesis.hash} is not the journal's ${journal.genesis.h} (another Hardhat network configuration?)`);
  }
  await send("evm_setAutomine", [false]);
  await send("evm_setIntervalMining", [0]);
  const total = journal.blocks.length;
  const step = Math.max(1000, Math.ceil(total / 10));
  for (const [index, block] of journal.blocks.entries()) {
    await send("evm_setNextBlockTimestamp", [block.t]);
    for (const raw of block.txs ?? []) await send("eth_sendRawTransaction", [raw]);
    await send("evm_mine");
    const mined = await blockAt(provider, block.n, false);
    if (mined?.hash !== block.h) {
      throw new JournalMismatchError(`replayed block ${block.n} has hash ${mined?.hash}, the journal says ${block.h}`);
    }
    if ((index + 1) % step === 0 && index + 1 < total) progress(index + 1, total);
  }
  progress(total, total);
}
