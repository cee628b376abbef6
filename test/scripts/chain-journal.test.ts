import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import hre from "hardhat";
import { createProvider } from "hardhat/internal/core/providers/construction";
import type { EthereumProvider } from "hardhat/types";
import { ParticipantRegistry__factory } from "../../typechain-types";
import { JournalMismatchError, readJournal, recordJournal, replayJournal, type ChainJournal } from "../../scripts/lib/chain-journal";

/**
 * The embedded node's journal: blocks recorded on one in-process Hardhat network and replayed on
 * another, started with the journal's genesis date, give the very same block hashes and state.
 */
describe("chain journal (record the embedded node's blocks, replay them after a restart)", function () {
  this.timeout(60_000);
  const directory = mkdtempSync(path.join(tmpdir(), "corridor-journal-"));
  const [deployer, other] = ["0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"];

  /** A new in-process network, as `npm start` configures it. */
  async function network(initialDate?: string): Promise<EthereumProvider> {
    const hardhat = hre.config.networks.hardhat;
    const config = { ...hre.config, networks: { ...hre.config.networks, hardhat: { ...hardhat, ...(initialDate ? { initialDate } : {}), mining: { auto: true, interval: 0, mempool: { order: "fifo" } } } } };
    return createProvider(config, "hardhat", hre.artifacts);
  }
  const send = (provider: EthereumProvider, method: string, params: unknown[] = []) => provider.request({ method, params }) as Promise<any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const hashes = async (provider: EthereumProvider, to: number) => {
    const all: string[] = [];
    for (let n = 0; n <= to; n++) all.push((await send(provider, "eth_getBlockByNumber", [`0x${n.toString(16)}`, false])).hash);
    return all;
  };
  const replayOn = async (journal: ChainJournal) => {
    const provider = await network(new Date(journal.genesis.t * 1000).toISOString());
    await replayJournal(provider, journal, () => undefined);
    return provider;
  };

  /** Blocks of every kind the demo mines: a deployment, legacy and EIP-1559 transfers, two transactions in one block, empty blocks, a jump in time. */
  async function recordSomeChain(file: string): Promise<{ provider: EthereumProvider; registry: string }> {
    const provider = await network();
    const recorder = await recordJournal({ provider, file, pollMs: 10 });
    const deployment = await new ParticipantRegistry__factory().getDeployTransaction(deployer);
    const deployHash = await send(provider, "eth_sendTransaction", [{ from: deployer, data: deployment.data }]);
    const registry = (await send(provider, "eth_getTransactionReceipt", [deployHash])).contractAddress;
    await send(provider, "eth_sendTransaction", [{ from: deployer, to: other, value: "0x64", gasPrice: "0x77359400" }]);
    await send(provider, "evm_setAutomine", [false]);
    await send(provider, "eth_sendTransaction", [{ from: other, to: deployer, value: "0x7" }]);
    await send(provider, "eth_sendTransaction", [{ from: deployer, to: other, value: "0x9" }]);
    await send(provider, "evm_mine");
    await send(provider, "evm_mine");
    await send(provider, "evm_increaseTime", [3_600]);
    await send(provider, "evm_mine");
    await recorder.flush();
    await recorder.stop();
    return { provider, registry };
  }

  it("replays every block to the same hash and state, and carries on appending after the replay", async () => {
    const file = path.join(directory, "replay.ndjson");
    const { provider: first, registry } = await recordSomeChain(file);
    const journal = readJournal(file)!;
    const head = Number(await send(first, "eth_blockNumber"));
    expect(journal.blocks.map((b) => b.n)).to.deep.equal(Array.from({ length: head }, (_v, i) => i + 1));
    expect(journal.blocks[2].txs, "two transactions in one block").to.have.length(2);

    const second = await replayOn(journal);
    expect(await hashes(second, head)).to.deep.equal(await hashes(first, head));
    expect(await send(second, "eth_getCode", [registry])).to.equal(await send(first, "eth_getCode", [registry]));
    expect(await send(second, "eth_getBalance", [other, "latest"])).to.equal(await send(first, "eth_getBalance", [other, "latest"]));

    const resumed = await recordJournal({ provider: second, file, resume: journal, pollMs: 10 });
    await send(second, "evm_mine");
    await send(second, "eth_sendTransaction", [{ from: other, to: deployer, value: "0x1" }]);
    await send(second, "evm_mine");
    await resumed.stop();
    const longer = readJournal(file)!;
    expect(longer.blocks.map((b) => b.n)).to.deep.equal(Array.from({ length: head + 2 }, (_v, i) => i + 1));
    const third = await replayOn(longer);
    expect(await hashes(third, head + 2)).to.deep.equal(await hashes(second, head + 2));
  });

  it("ignores a torn last line, and cuts it off before appending again", async () => {
    const file = path.join(directory, "torn.ndjson");
    const { provider } = await recordSomeChain(file);
    const whole = readJournal(file)!;
    appendFileSync(file, '{"n":99,"t":17');
    const torn = readJournal(file)!;
    expect(torn.blocks).to.deep.equal(whole.blocks);
    expect(torn.validBytes).to.equal(whole.validBytes);

    const resumed = await recordJournal({ provider, file, resume: torn, pollMs: 10 });
    await send(provider, "evm_mine");
    await resumed.stop();
    expect(readJournal(file)!.blocks).to.have.length(whole.blocks.length + 1);
    expect(readFileSync(file, "utf8")).not.to.contain('"n":99');
  });

  it("refuses to replay a journal whose blocks do not come out the same, or whose chain was rewound", async () => {
    const file = path.join(directory, "tampered.ndjson");
    await recordSomeChain(file);
    const journal = readJournal(file)!;
    const tampered = { ...journal, blocks: journal.blocks.map((b) => (b.n === 5 ? { ...b, t: b.t + 1 } : b)) };
    await expectMismatch(replayOn(tampered), /replayed block 5 has hash/);
    await expectMismatch(replayJournal(await network("2020-01-01T00:00:00Z"), journal, () => undefined), /genesis block/);

    const rewound = path.join(directory, "rewound.ndjson");
    const provider = await network();
    const recorder = await recordJournal({ provider, file: rewound, pollMs: 10 });
    const snapshot = await send(provider, "evm_snapshot");
    await send(provider, "evm_mine");
    await recorder.flush();
    await send(provider, "evm_revert", [snapshot]);
    await send(provider, "eth_sendTransaction", [{ from: other, to: deployer, value: "0x1" }]); // another block 1
    await send(provider, "evm_mine"); // block 2, whose parent is not the journaled block 1
    await recorder.stop();
    const broken = readJournal(rewound)!;
    expect(broken.broken).to.match(/block 1 was replaced/);
    await expectMismatch(replayOn(broken), /cannot be replayed/);
    writeFileSync(path.join(directory, "empty.ndjson"), "");
    expect(readJournal(path.join(directory, "empty.ndjson"))).to.equal(undefined);
  });

  async function expectMismatch(pending: Promise<unknown>, pattern: RegExp): Promise<void> {
    const error = await pending.then(() => undefined, (e: unknown) => e);
    expect(error).to.be.instanceOf(JournalMismatchError);
    expect((error as Error).message).to.match(pattern);
  }
});
