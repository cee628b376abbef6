import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { once } from "node:events";
import { createServer, type AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { expect } from "chai";
import { signWebhook, verifyWebhookSignature } from "../../server/webhooks/signature";
import { verifyCorridorSignature } from "../../scripts/examples/webhook-receiver";
import { deploymentOf, startRelayWorld, type RelayWorld } from "./relay-harness";

/**
 * docs/integration.md, word for word: every ```sh block runs, in order, in ONE bash process (as a
 * reader pastes them into one terminal), with `set -eo pipefail`, against a relay started by
 * startRelayWorld(). The guide's one ```bash block is the reader's environment (values npm start
 * printed); this test supplies those variables itself, with the harness's values: its test banks'
 * BICs and keys (which is why the guide names banks through DEBTOR_BIC, CREDITOR_BIC and
 * PROVIDER_BIC), the relay's URL and the JSON-RPC server's. One more, DEPLOYMENT_FILE (documented
 * in section 11), points the bank-direct example at the harness's contracts: the harness's chain
 * is also 31337, and deployments/31337.json belongs to a reader's npm start.
 */

const ROOT = path.resolve(__dirname, "../..");
const GUIDE = path.join(ROOT, "docs/integration.md");
/** Shell variables the guide's blocks define, read back after the run. */
const GUIDE_VARIABLES = ["UETR", "HOOK_UETR", "PACS_UETR", "NET_UETR", "WINDOW_ID", "FX_UETR", "WEBHOOK_LOG"] as const;
const DONE = "::guide-block-done ";
const VARIABLE = "::guide-variable ";

interface CodeBlock {
  lang: string;
  code: string;
  /** 1-based line of the opening fence, for messages. */
  line: number;
}

export function codeBlocks(markdown: string): CodeBlock[] {
  const blocks: CodeBlock[] = [];
  const lines = markdown.split("\n");
  for (let i = 0; i < lines.length; i++) {
    const open = /^```(\w*)\s*$/.exec(lines[i]);
    if (!open) continue;
    const end = lines.findIndex((line, j) => j > i && line.startsWith("```"));
    if (end < 0) throw new Error(`unclosed code block at line ${i + 1}`);
    blocks.push({ lang: open[1], code: lines.slice(i + 1, end).join("\n") + "\n", line: i + 1 });
    i = end;
  }
  return blocks;
}

interface BlockRun {
  exitCode: number | null;
  /** Blocks that ran to the end, in order. */
  completed: number;
  /** Each block's stdout. */
  outputs: string[];
  stderr: string;
  variables: Record<string, string>;
}

/**
 * Sources each block in one bash, printing a marker after each; kills the whole process group at
 * the end, so that anything a block left in the background (the webhook receiver, when a later
 * block failed before `kill`) does not outlive the test.
 */
export async function runBlocks(blocks: readonly CodeBlock[], env: Record<string, string>, timeoutMs: number, variables: readonly string[] = []): Promise<BlockRun> {
  const dir = mkdtempSync(path.join(tmpdir(), "corridor-guide-"));
  // The variables are printed on exit, a failed run's too (the failure keeps its exit status).
  const printed = variables.map((name) => `printf '${VARIABLE}%s=%s\\n' ${name} "\${${name}-}"`);
  const script = ["set -eo pipefail", `__guide_variables() { ${printed.join("; ")}${printed.length ? ";" : ""} :; }`, "trap __guide_variables EXIT"];
  blocks.forEach((block, i) => {
    const file = path.join(dir, `block-${i}.sh`);
    writeFileSync(file, block.code);
    script.push(`source ${JSON.stringify(file)}`, `printf '\\n${DONE}%d\\n' ${i}`);
  });
  writeFileSync(path.join(dir, "driver.sh"), script.join("\n") + "\n");

  const child = spawn("bash", [path.join(dir, "driver.sh")], { cwd: ROOT, env: { ...process.env, ...env }, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
  const timer = setTimeout(() => process.kill(-child.pid!, "SIGKILL"), timeoutMs);
  const exitCode = await new Promise<number | null>((resolve) => child.on("close", resolve));
  clearTimeout(timer);
  try {
    process.kill(-child.pid!, "SIGTERM");
  } catch {
    // the group is empty: nothing was left running
  }

  const outputs: string[] = [];
  let current = "";
  const found: Record<string, string> = {};
  for (const line of stdout.split("\n")) {
    if (line.startsWith(DONE)) {
      outputs.push(current);
      current = "";
    } else if (line.startsWith(VARIABLE)) {
      const [name, ...value] = line.slice(VARIABLE.length).split("=");
      found[name] = value.join("=");
    } else {
      current += `${line}\n`;
    }
  }
  if (outputs.length < blocks.length) outputs.push(current); // the failing block's output
  return { exitCode, completed: stdout.split("\n").filter((l) => l.startsWith(DONE)).length, outputs, stderr, variables: found };
}

/** A port nothing listens on right now, for the guide's webhook receiver. */
async function freePort(): Promise<number> {
  const server = createServer().listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/** The names a block exports (`export NAME=…`). */
const exportedNames = (code: string) => [...code.matchAll(/^export ([A-Z_][A-Z0-9_]*)=/gm)].map((m) => m[1]).sort();

describe("docs/integration.md runs word for word against a relay", function () {
  this.timeout(360_000);
  const blocks = codeBlocks(readFileSync(GUIDE, "utf8"));
  const runnable = blocks.filter((b) => b.lang === "sh");
  let world: RelayWorld;
  let run: BlockRun;
  let env: Record<string, string>;

  before(async () => {
    world = await startRelayWorld({ env: { AUTO_RELEASE: "true" }, approveWindows: true });
    const deploymentFile = path.join(mkdtempSync(path.join(tmpdir(), "corridor-guide-deployment-")), "deployment.json");
    writeFileSync(deploymentFile, JSON.stringify(await deploymentOf(world.fixture)));
    const reader = {
      CORRIDOR_URL: world.relay.url,
      CORRIDOR_KEY: world.keys.banks[world.bic(0)],
      DEBTOR_BIC: world.bic(0),
      CREDITOR_BIC: world.bic(1),
      PROVIDER_BIC: world.bic(2),
      PROVIDER_KEY: world.keys.banks[world.bic(2)],
      TREASURY_KEY: world.keys.treasury,
      ADMIN_KEY: world.keys.admin,
      RPC_URL: world.rpcUrl,
      WEBHOOK_PORT: String(await freePort()),
    };
    const setup = blocks.filter((b) => b.lang === "bash");
    expect(setup, "exactly one ```bash block: the reader's environment").to.have.length(1);
    expect(exportedNames(setup[0].code), "the test supplies every variable the environment block sets").to.deep.equal(Object.keys(reader).sort());
    env = { ...reader, DEPLOYMENT_FILE: deploymentFile };
    run = await runBlocks(runnable, env, 300_000, GUIDE_VARIABLES);
  });
  after(async () => world?.stop());

  const output = (pattern: RegExp) => run.outputs.find((o) => pattern.test(o)) ?? "";
  const payment = async (uetr: string) => (await world.api("GET", `/v1/payments/${uetr}`, { key: env.CORRIDOR_KEY })).body;

  it("has its runnable blocks fenced as sh, and every one exits 0 in order", () => {
    expect(runnable.length).to.be.at.least(14);
    const failed = runnable[run.completed];
    const where = failed ? `the block at docs/integration.md:${failed.line} failed:\n${failed.code}\n--- its output:\n${run.outputs[run.completed]}` : "";
    expect(run.exitCode, `${where}\n--- stderr:\n${run.stderr}`).to.equal(0);
    expect(run.completed).to.equal(runnable.length);
    expect(blocks.filter((b) => !["sh", "bash", "text", "console", "ts"].includes(b.lang)), "no unmarked fences").to.deep.equal([]);
  });

  it("made the payment of section 4, replayed it idempotently, got the 409, and followed it to SETTLED", async () => {
    const first = await payment(run.variables.UETR);
    expect(first.status).to.equal("SETTLED");
    expect(first.amount).to.deep.equal({ value: "245000", currency: "GBP" });
    expect(first.history.map((h: { status: string }) => h.status)).to.include.members(["RECEIVED", "LOCKED", "SETTLED"]);
    expect(first.history.find((h: { status: string }) => h.status === "SETTLED").txHash).to.match(/^0x[0-9a-f]{64}$/);
    expect(output(/idempotent-replayed/i)).to.match(/^Idempotent-Replayed: true/im);
    expect(output(/idempotency_conflict/)).to.contain('"code":"idempotency_conflict"');
    expect(output(/invalid_amount/)).to.contain('"code":"invalid_amount"');
    const list = await world.api("GET", `/v1/payments?endToEndId=INV-2026-0001`, { key: env.CORRIDOR_KEY });
    expect(list.body.payments, "the replay and the conflicting request made no second payment").to.have.length(1);
  });

  it("verified a real webhook delivery with the example receiver, and refused the tampered one", async () => {
    const log = readFileSync(run.variables.WEBHOOK_LOG, "utf8").trim().split("\n").map((line) => JSON.parse(line));
    const settled = log.find((l) => l.verdict === "accepted" && l.uetr === run.variables.HOOK_UETR && l.status === "SETTLED");
    expect(settled, JSON.stringify(log)).to.not.equal(undefined);
    expect(settled.type).to.equal("payment.status_changed");
    // A real delivery, signed by the relay with the secret the guide rotated in: the relay's own
    // verifier agrees with the example's.
    const { webhook_secret: secret } = await world.relay.database.db.selectFrom("participants").select("webhook_secret").where("bic", "=", env.DEBTOR_BIC).executeTakeFirstOrThrow();
    // Signatures carry the wall clock (the relay's own clock may run ahead with the chain's in the full suite).
    expect(verifyWebhookSignature(secret!, settled.signature, settled.rawBody, { now: Date.now() })).to.equal(true);
    const refusals = log.filter((l) => l.verdict !== "accepted").map((l) => [l.verdict, l.eventId ?? l.reason]);
    expect(refusals, "the replay was a duplicate, the tampered body refused").to.deep.equal([["duplicate", settled.eventId], ["rejected", "signature mismatch"]]);
    expect(output(/tampered:/)).to.match(/^replayed: 200$/m).and.match(/^tampered: 401$/m);
  });

  it("submitted the pacs.008 of section 8: ACTC, then SETTLED with a pacs.002 of ACSC", async () => {
    expect(output(/ACTC/)).to.contain("<TxSts>ACTC</TxSts>");
    const paid = await payment(run.variables.PACS_UETR);
    expect(paid.status).to.equal("SETTLED");
    expect(paid.amount).to.deep.equal({ value: "123456", currency: "GBP" });
    expect(paid.references.messageId).to.equal(run.variables.PACS_UETR.replace(/-/g, ""));
    const report = await world.api("GET", `/v1/payments/${run.variables.PACS_UETR}/pacs.002`, { key: env.CORRIDOR_KEY });
    expect(report.body).to.contain("<TxSts>ACSC</TxSts>");
  });

  it("settled the net payment of section 9 in its window, with a proof the contract accepts", async () => {
    expect((await payment(run.variables.NET_UETR)).status).to.equal("SETTLED");
    const window = await world.api("GET", `/v1/windows/${run.variables.WINDOW_ID}`, { key: env.TREASURY_KEY });
    expect(window.body.state).to.equal("SETTLED");
    const proof = (await world.api("GET", `/v1/payments/${run.variables.NET_UETR}/proof`, { key: env.CORRIDOR_KEY })).body;
    const leaf = { ...proof.leaf, amount: BigInt(proof.leaf.amount) };
    expect(leaf.amount).to.equal(50_000n);
    expect(await world.fixture.netting.verifyPayment(proof.chainWindowId, leaf, proof.proof)).to.equal(true);
  });

  it("paid across currencies with the quote of section 10: PvP settled, ¥457,616 to the creditor bank", async () => {
    const leg = await payment(run.variables.FX_UETR);
    expect(leg.status).to.equal("SETTLED");
    expect(leg.fx.provider.bic).to.equal(env.PROVIDER_BIC);
    expect(leg.fx.target).to.deep.equal({ value: "457616", currency: "JPY" });
    const legB = await world.api("GET", `/v1/payments/${leg.fx.linkedUetr}`, { key: env.PROVIDER_KEY });
    expect([legB.body.status, legB.body.amount]).to.deep.equal(["SETTLED", { value: "457616", currency: "JPY" }]);
  });

  it("ran the bank-direct example of section 11: locked, refused a wrong preimage, released", async () => {
    const printed = output(/^state\s/m);
    expect(printed).to.match(/^refused\s+a wrong preimage: InvalidPreimage\(0x[0-9a-f]{32}\)$/m);
    const uetr = printed.match(/^state\s+([0-9a-f-]{36}): Released$/m)?.[1];
    expect(uetr, printed).to.be.a("string");
    expect(await world.fixture.escrow.paymentState(`0x${uetr!.replace(/-/g, "")}`)).to.equal(2n);
  });
});

describe("docs/integration.md: its checks can fail, and its verifier is the example's", function () {
  this.timeout(60_000);

  it("stops at the first failing block, a failed pipeline included, and says which", async () => {
    const blocks = ["echo one; KEPT=yes", "curl -s http://127.0.0.1:1/ | cat; echo after", "echo three"].map((code, i) => ({ lang: "sh", code, line: i }));
    const run = await runBlocks(blocks, {}, 30_000, ["KEPT"]);
    expect(run.exitCode).to.not.equal(0);
    expect(run.completed).to.equal(1);
    expect(run.outputs[1]).to.not.contain("after");
    expect(run.variables, "a failed run still reports its variables").to.deep.equal({ KEPT: "yes" });
  });

  it("shows the verifier exactly as scripts/examples/webhook-receiver.ts has it", () => {
    const shown = codeBlocks(readFileSync(GUIDE, "utf8")).filter((b) => b.lang === "ts");
    expect(shown).to.have.length(1);
    const source = readFileSync(path.join(ROOT, "scripts/examples/webhook-receiver.ts"), "utf8");
    expect(source).to.contain(shown[0].code);
  });

  it("accepts what the relay signs and refuses tampering, other secrets, stale or future timestamps and malformed headers", () => {
    const secret = "whsec_test";
    const body = JSON.stringify({ id: "e1", type: "payment.status_changed", data: { uetr: "u", status: "SETTLED" } });
    const nowMs = 1_800_000_000_000;
    const t = nowMs / 1000;
    const header = signWebhook(secret, t, body);
    const check = (h: string | undefined, b: string | Buffer = body, at = nowMs) => verifyCorridorSignature(secret, h, b, { nowMs: at });
    expect(check(header)).to.deep.equal({ ok: true, timestamp: t });
    expect(check(header, Buffer.from(body))).to.deep.equal({ ok: true, timestamp: t });
    expect(check(header, body.replace("SETTLED", "REFUNDED"))).to.deep.equal({ ok: false, reason: "signature mismatch" });
    expect(check(signWebhook("another", t, body))).to.deep.equal({ ok: false, reason: "signature mismatch" });
    expect(check(header, body, nowMs + 301_000)).to.deep.equal({ ok: false, reason: "timestamp outside tolerance" });
    expect(check(header, body, nowMs - 301_000)).to.deep.equal({ ok: false, reason: "timestamp outside tolerance" });
    expect(check(header, body, nowMs + 300_000).ok).to.equal(true);
    expect(check(undefined)).to.deep.equal({ ok: false, reason: "no signature" });
    for (const malformed of ["", "t=1", header.replace(/t=\d+/, "t=abc"), `${header},t=${t}`, "v1=00", "garbage"]) {
      expect(check(malformed), malformed).to.deep.equal({ ok: false, reason: malformed === "" ? "no signature" : "malformed signature" });
    }
    // During a secret rotation two v1 values come; one matching is enough, and unknown schemes are ignored.
    const rotated = `${header},v1=${signWebhook("old", t, body).split("v1=")[1]},v2=zz`;
    expect(check(rotated).ok).to.equal(true);
    // Both verifiers agree on every case above.
    for (const h of [header, rotated, signWebhook("another", t, body)]) {
      expect(check(h).ok).to.equal(verifyWebhookSignature(secret, h, body, { now: nowMs }));
    }
  });
});
