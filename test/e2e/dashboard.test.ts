import { existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { randomUUID } from "node:crypto";
import { expect } from "chai";
import hre from "hardhat";
import { chromium, type Browser, type Locator, type Page } from "playwright-core";
import { startRelayWorld, type RelayWorld } from "./relay-harness";
import { eventually } from "../support/eventually";
import { camt054 } from "../support/iso-messages";
import { reserveStatementXml } from "../../scripts/lib/demo-iso20022";

// The callbacks given to page.evaluate run in Chromium; this project compiles for Node, without
// the DOM library (which would retype timers everywhere), so the page's globals are declared here.
declare const document: any, window: any, sessionStorage: any, localStorage: any;
declare function getComputedStyle(element: unknown): { outlineStyle: string };

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
const SCREENSHOTS = path.resolve(__dirname, "../../test-results");
const GBP_RESERVE = "GB29NWBK60161331926819";
const JPY_RESERVE = "JP00RESERVE0000000001";
const HOSTILE_NAME = `<img src=x alt="injected"> & "Bob" GmbH`;
const TABS = ["Positions", "Reserves", "Payments", "Windows", "Reconciliation", "Charts"] as const;

/** The oracle for the page's money formatting: minor units to grouped major units, by ISO exponent. */
function money(value: string | bigint, currency: string): string {
  const places = currency === "JPY" ? 0 : ["BHD", "KWD", "OMR", "JOD", "TND", "LYD", "IQD"].includes(currency) ? 3 : 2;
  const units = BigInt(value);
  const digits = (units < 0n ? -units : units).toString().padStart(places + 1, "0");
  const whole = BigInt(digits.slice(0, digits.length - places)).toLocaleString("en-US");
  return `${units < 0n ? "-" : ""}${whole}${places ? `.${digits.slice(-places)}` : ""} ${currency}`;
}

/** What the test reads of a Chart.js instance. */
interface ChartData {
  data: { labels: unknown[]; datasets: { label: string; data: number[] }[] };
}

async function cellTexts(page: Page, tableSelector: string): Promise<string[][]> {
  return page.$$eval(`${tableSelector} tbody tr`, (rows) => rows.map((row) => [...row.querySelectorAll("td")].map((td) => (td.textContent ?? "").trim())));
}

async function textOf(locator: Locator): Promise<string> {
  return ((await locator.textContent()) ?? "").replace(/\s+/g, " ").trim();
}

describe("treasury dashboard in a real browser (Chromium, live relay)", function () {
  this.timeout(300_000);
  let world: RelayWorld;
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  const foreignRequests: string[] = [];

  before(async function () {
    // Coverage instruments the contracts and runs no browser; everywhere else a missing Chromium is a failure.
    if ((hre as unknown as { __SOLIDITY_COVERAGE_RUNNING?: boolean }).__SOLIDITY_COVERAGE_RUNNING) this.skip();
    if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's package (apt-get install chromium; .ci/run does) or set CHROMIUM_PATH`);
    world = await startRelayWorld({
      approveWindows: true,
      env: { AUTO_RELEASE: "true", WINDOW_INTERVAL_SECONDS: "3600", RESERVE_ACCOUNTS: `GBP=${GBP_RESERVE},JPY=${JPY_RESERVE}` },
    });
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
    page = await browser.newPage({ viewport: { width: 1366, height: 800 } });
    page.on("console", (message) => message.type() === "error" && consoleErrors.push(message.text()));
    page.on("pageerror", (error) => consoleErrors.push(`page error: ${error.message}`));
    page.on("request", (request) => {
      const url = new URL(request.url());
      if (url.protocol === "data:" || url.protocol === "blob:") return;
      if (!["127.0.0.1", "localhost", "[::1]"].includes(url.hostname)) foreignRequests.push(request.url());
    });
    mkdirSync(SCREENSHOTS, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await world?.stop();
  });

  const bankKey = (i: number) => world.keys.banks[world.bic(i)];
  const treasury = () => world.keys.treasury;
  const today = () => new Date(world.now()).toISOString().slice(0, 10);
  const tab = (name: (typeof TABS)[number]) => page.getByRole("tab", { name, exact: true });
  const paymentRow = (uetr: string) => page.locator(`#payments-table tbody tr[data-uetr="${uetr}"]`);
  const shownUetrs = () => page.$$eval("#payments-table tbody tr[data-uetr]", (rows) => rows.map((r) => r.dataset.uetr as string));

  async function pay(from: number, to: number, amount: { value: string; currency: string }, extra: Record<string, unknown> = {}) {
    const res = await world.api("POST", "/v1/payments", {
      key: bankKey(from),
      idempotencyKey: randomUUID(),
      body: { endToEndId: `DASH-${randomUUID().slice(0, 8)}`, debtorAgent: { bic: world.bic(from) }, creditorAgent: { bic: world.bic(to) }, amount, creditor: { name: HOSTILE_NAME }, ...extra },
    });
    expect(res.status, JSON.stringify(res.body)).to.equal(201);
    return res.body as { uetr: string; endToEndId: string; windowId: string | null };
  }

  async function search(term: string) {
    await page.getByLabel("Search by UETR, EndToEndId or BIC").fill(term);
    await page.getByLabel("Search by UETR, EndToEndId or BIC").press("Enter");
    await page.locator("#payments-summary", { hasText: `matching “${term}”` }).waitFor();
  }

  let gross: { uetr: string; endToEndId: string };

  it("refuses a wrong key with the API's message, then signs in by keyboard alone", async () => {
    await page.goto(`${world.relay.url}/dashboard/`);
    const typeKeyAndEnter = async (key: string) => {
      for (let i = 0; i < 6 && (await page.evaluate(() => document.activeElement?.id)) !== "api-key"; i++) await page.keyboard.press("Tab");
      expect(await page.evaluate(() => document.activeElement?.id)).to.equal("api-key");
      await page.keyboard.press("ControlOrMeta+A");
      await page.keyboard.type(key);
      await page.keyboard.press("Enter");
    };
    await page.evaluate(() => document.activeElement?.blur());
    await typeKeyAndEnter("crd_wrong_key");
    const refusal = (await world.api("GET", "/v1/reconciliation/runs", { key: "crd_wrong_key" })).body.error.message;
    const error = page.getByRole("alert").filter({ hasText: refusal });
    await error.waitFor();
    expect(await textOf(error)).to.equal(refusal);
    expect(await page.locator("#app-view").isHidden()).to.equal(true);
    expect(await page.evaluate(() => sessionStorage.length)).to.equal(0);
    // The refused request is the only error the browser may log.
    expect(consoleErrors.every((e) => /401/.test(e)), consoleErrors.join("\n")).to.equal(true);
    consoleErrors.length = 0;

    await typeKeyAndEnter(treasury());
    await page.getByRole("button", { name: "Sign out" }).waitFor();
    expect(await page.locator("#signin-view").isHidden()).to.equal(true);
    expect(await page.evaluate(() => Object.values(sessionStorage))).to.deep.equal([treasury()]);
    expect(await page.evaluate(() => localStorage.length)).to.equal(0);
    expect(page.url()).to.not.include(treasury());
  });

  it("is usable by keyboard: tabs by arrow keys, visible focus, every control named", async () => {
    await tab("Positions").focus();
    await page.keyboard.press("ArrowRight");
    expect(await tab("Reserves").getAttribute("aria-selected")).to.equal("true");
    expect(await page.locator("#panel-reserves").isVisible()).to.equal(true);
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("tab-reserves");
    expect(await page.evaluate(() => getComputedStyle(document.activeElement!).outlineStyle)).to.not.equal("none");
    await page.keyboard.press("End");
    expect(await tab("Charts").getAttribute("aria-selected")).to.equal("true");
    await page.keyboard.press("Home");
    expect(await tab("Positions").getAttribute("aria-selected")).to.equal("true");

    for (const name of TABS) expect(await tab(name).count(), name).to.equal(1);
    expect(await page.getByLabel("Search by UETR, EndToEndId or BIC").count()).to.equal(1);
    expect(await page.getByLabel("Class", { exact: true }).count()).to.equal(1);
    expect(await page.getByLabel("Resolution note").count()).to.equal(1);
    const unnamed = await page.$$eval("button, input, select, textarea", (controls) =>
      controls.filter((c) => {
        if (c.tagName === "BUTTON") return !(c.getAttribute("aria-label") || c.textContent?.trim());
        return !document.querySelector(`label[for="${c.id}"]`);
      }).map((c) => c.outerHTML));
    expect(unnamed, "controls without an accessible name").to.deep.equal([]);
    expect(await page.$$eval("[onclick], [onload], [onerror], [onchange], [onsubmit]", (n) => n.length)).to.equal(0);
  });

  it("shows a bank's payment arrive live and reach SETTLED, without a reload", async () => {
    await tab("Payments").click();
    await page.locator('#live-state[data-state="live"]').waitFor();
    await page.evaluate(() => (window.notReloaded = true));
    gross = await pay(0, 1, { value: "245000", currency: "GBP" });
    const row = paymentRow(gross.uetr);
    await row.waitFor({ timeout: 20_000 });
    await page.locator(`#payments-table tr[data-uetr="${gross.uetr}"][data-status="SETTLED"]`).waitFor({ timeout: 60_000 });
    const cells = (await row.locator("td").allTextContents()).map((t) => t.trim());
    expect(cells.slice(1, 8)).to.deep.equal([gross.uetr, gross.endToEndId, world.bic(0), world.bic(1), "2,450.00 GBP", "gross", "SETTLED"]);
    expect(await page.evaluate(() => window.notReloaded)).to.equal(true);
    await page.locator("#announcer", { hasText: `Payment ${gross.endToEndId}: SETTLED` }).waitFor();
  });

  it("opens the payment's lifecycle: each status with its time, transaction hash and block", async () => {
    await page.getByRole("button", { name: `Details of payment ${gross.endToEndId}` }).click();
    const detail = page.locator("#payment-detail");
    await detail.getByRole("heading", { name: `Payment ${gross.endToEndId}` }).waitFor();
    const api = (await world.api("GET", `/v1/payments/${gross.uetr}`, { key: treasury() })).body as { history: { status: string; txHash: string | null; blockNumber: number | null }[] };
    const steps = await page.$$eval("#payment-timeline li", (items) => items.map((li) => ({
      status: li.querySelector(".badge")?.textContent,
      time: li.querySelector("time")?.getAttribute("datetime"),
      hash: li.querySelector("code.hash")?.textContent ?? null,
      text: li.textContent ?? "",
    })));
    expect(steps.map((s) => s.status)).to.deep.equal(["RECEIVED", "SUBMITTED", "LOCKED", "SETTLED"]);
    expect(steps.map((s) => s.status)).to.deep.equal(api.history.map((h) => h.status));
    steps.forEach((step, i) => {
      expect(step.time, step.status).to.match(/^\d{4}-\d{2}-\d{2}T/);
      expect(step.hash).to.equal(api.history[i].txHash);
      if (i > 0) expect(step.hash).to.match(/^0x[0-9a-f]{64}$/);
      // A sent transaction (SUBMITTED) has no block yet; the ones the indexer saw mined do.
      if (i > 1) expect(api.history[i].blockNumber).to.be.a("number");
      if (api.history[i].blockNumber !== null) expect(step.text).to.include(`in block ${api.history[i].blockNumber}`);
    });
    // Names are text, never markup.
    expect(await textOf(detail)).to.include(HOSTILE_NAME.replace(/\s+/g, " "));
    expect(await page.locator('img[alt="injected"]').count()).to.equal(0);
    await page.keyboard.press("Escape");
    expect(await detail.isHidden()).to.equal(true);
  });

  it("finds payments by UETR, EndToEndId and BIC", async () => {
    const other = await pay(2, 3, { value: "5000", currency: "JPY" });
    await paymentRow(other.uetr).waitFor({ timeout: 20_000 });
    expect(await textOf(paymentRow(other.uetr).locator("td").nth(5))).to.equal("5,000 JPY");

    await search(gross.uetr);
    expect(await shownUetrs()).to.deep.equal([gross.uetr]);
    await search(other.endToEndId);
    expect(await shownUetrs()).to.deep.equal([other.uetr]);
    await search(world.bic(3).toLowerCase());
    const byBic = (await world.api("GET", `/v1/payments?bic=${world.bic(3)}&limit=200`, { key: treasury() })).body.payments.map((p: { uetr: string }) => p.uetr);
    expect(byBic).to.include(other.uetr);
    expect(new Set(await shownUetrs())).to.deep.equal(new Set(byBic));
    expect(await shownUetrs()).to.not.include(gross.uetr);
    await search("NO-SUCH-E2E");
    expect(await textOf(page.locator("#payments-table tbody"))).to.equal("No payment matches.");
    await page.getByRole("button", { name: "Show latest" }).click();
    await paymentRow(gross.uetr).waitFor();
  });

  it("resolves a reconciliation break with a note, and the API has it resolved", async () => {
    const supply = await world.fixture.tokens.GBP.totalSupply();
    const imported = await world.api("POST", "/v1/statements", { key: treasury(), body: reserveStatementXml({ account: GBP_RESERVE, currency: "GBP", closingBalance: supply, date: today(), createdAt: new Date() }), headers: { "content-type": "application/xml" } });
    expect(imported.status, JSON.stringify(imported.body)).to.equal(201);
    const stray = randomUUID();
    const entry = { amount: "12.34", currency: "GBP", creditDebit: "DBIT" as const, uetr: stray, counterpartyBic: world.bic(1), valueDate: today() };
    const notified = await world.api("POST", "/v1/statements", { key: treasury(), body: camt054("GB33BUKB20201555555555", [entry]), headers: { "content-type": "application/xml" } });
    expect(notified.status, JSON.stringify(notified.body)).to.equal(201);
    const run = await world.api("POST", "/v1/reconciliation/runs", { key: treasury(), body: { from: today(), to: today() }, idempotencyKey: randomUUID() });
    expect(run.status, JSON.stringify(run.body)).to.equal(201);
    const open = (await world.api("GET", "/v1/reconciliation/breaks?status=open", { key: treasury() })).body.breaks as { id: string; class: string; currency: string }[];
    const target = open.find((b) => JSON.stringify(b).includes(stray));
    expect(target, JSON.stringify(open)).to.not.equal(undefined);
    expect(open.filter((b) => b.class === "reserve_mismatch").map((b) => b.currency).sort()).to.deep.equal(["JPY"]); // no statement; BHD has no reserve account to check

    await tab("Reconciliation").click();
    const label = target!.class.replace(/_/g, " ");
    const resolve = page.getByRole("button", { name: `Resolve ${label} break ${target!.id.slice(0, 8)}` });
    await resolve.waitFor({ timeout: 15_000 });
    expect(await textOf(page.locator("#break-classes"))).to.include("1 reserve mismatch");
    expect((await cellTexts(page, "#runs-table"))[0][3]).to.equal(run.body.status);
    await resolve.click();
    expect(await page.evaluate(() => document.activeElement?.id)).to.equal("resolve-note");
    const note = `Bank booked a fee twice <script>; refunded ${randomUUID().slice(0, 6)}`;
    await page.getByLabel("Resolution note").fill(note);
    await page.getByRole("button", { name: "Resolve break", exact: true }).click();
    await page.locator("#resolved-table td", { hasText: note }).waitFor();
    expect(await page.locator(`button[data-break-id="${target!.id}"]`).count()).to.equal(0);
    const resolved = (await world.api("GET", `/v1/reconciliation/breaks/${target!.id}`, { key: treasury() })).body;
    expect(resolved).to.deep.include({ status: "resolved", resolutionNote: note });
  });

  it("shows positions, proof of reserves (in colour and in words), the open window's obligations and a settled window's saving", async () => {
    const net = [await pay(0, 1, { value: "50000000", currency: "GBP" }, { settlement: "net" }), await pay(1, 0, { value: "20000000", currency: "GBP" }, { settlement: "net" })];
    const positions = await eventually(async () => {
      const body = (await world.api("GET", "/v1/positions", { key: treasury() })).body;
      return body.positions.some((p: { projectedNet: string }) => p.projectedNet === "-30000000") ? body.positions : undefined;
    }, 20_000, "projected net positions");
    await tab("Positions").click();
    await page.locator("#positions-table td", { hasText: "-300,000.00 GBP" }).waitFor({ timeout: 15_000 });
    const rows = await cellTexts(page, "#positions-table");
    expect(rows).to.have.length(positions.length);
    for (const p of positions as { bic: string; currency: string; onChain: string; posted: string; projectedNet: string }[]) {
      const row = rows.find((r) => r[0].startsWith(p.bic) && r[1] === p.currency);
      expect(row, `${p.bic} ${p.currency}`).to.not.equal(undefined);
      expect(row!.slice(2, 4)).to.deep.equal([money(p.onChain, p.currency), money(p.posted, p.currency)]);
      expect(row![6]).to.equal(money(p.projectedNet, p.currency));
    }
    const alphaGbp = rows.find((r) => r[0].startsWith(world.bic(0)) && r[1] === "GBP")!;
    expect(alphaGbp[8]).to.include("6.00 %");
    expect(rows.find((r) => r[1] === "BHD")![2]).to.match(/^[\d,]+\.\d{3} BHD$/);
    expect(rows.find((r) => r[1] === "JPY")![2]).to.match(/^[\d,]+ JPY$/);

    await tab("Reserves").click();
    const reserves = await cellTexts(page, "#reserves-table");
    const proof = Object.fromEntries(reserves.map((r) => [r[0], r[5]]));
    expect(proof).to.deep.equal({ GBP: "✓ matched", JPY: "✗ mismatch", BHD: "✗ mismatch" });
    expect(await page.locator("#reserves-table .badge-ok").count()).to.equal(1);
    expect(await page.locator("#reserves-table .badge-bad").count()).to.equal(2);

    await tab("Windows").click();
    const card = page.getByRole("article", { name: /GBP window/ });
    await card.locator("td", { hasText: "500,000.00 GBP" }).waitFor({ timeout: 15_000 });
    const obligations = await card.locator("table").first().locator("tbody tr").evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll("td")].map((td) => td.textContent)));
    expect(obligations).to.have.deep.members([
      [world.bic(0), world.bic(1), "1", "500,000.00 GBP"],
      [world.bic(1), world.bic(0), "1", "200,000.00 GBP"],
    ]);
    expect(await textOf(card)).to.include("700,000.00 GBP");

    const closed = await world.api("POST", `/v1/windows/${net[0].windowId}/close`, { key: treasury(), idempotencyKey: randomUUID() });
    expect(closed.status, JSON.stringify(closed.body)).to.equal(200);
    const settled = await eventually(async () => {
      const w = (await world.api("GET", `/v1/windows/${net[0].windowId}`, { key: treasury() })).body;
      return w.state === "SETTLED" ? w : undefined;
    }, 60_000, "window settled");
    expect(settled.netToGrossBps).to.equal(8571);
    const history = page.locator("#windows-table tbody tr", { hasText: `GBP #${settled.sequence}` });
    await history.filter({ hasText: "SETTLED" }).waitFor({ timeout: 15_000 });
    expect(await textOf(history.locator("td.saving"))).to.equal("14.29 %");
    expect(await textOf(history)).to.include(settled.txHash.slice(0, 10));
  });

  it("draws the three charts from the payment statistics", async () => {
    await tab("Charts").click();
    const charts = await eventually(async () => {
      const data = await page.evaluate(() => ["chart-status", "chart-settle", "chart-corridors"].map((id) => {
        const chart: ChartData | undefined = window.Chart.getChart(document.getElementById(id));
        return chart ? { labels: chart.data.labels.map(String), datasets: chart.data.datasets.map((d) => ({ label: d.label, total: d.data.reduce((a, b) => a + b, 0) })) } : null;
      }));
      const settledBar = data[0]?.datasets.find((d) => d.label === "SETTLED");
      return data.every(Boolean) && settledBar && settledBar.total >= 2 && data[1]!.datasets[0].total >= 2 ? data : undefined;
    }, 20_000, "charts with data");
    const [status, settle, corridors] = charts.map((c) => c!);
    expect(status.datasets.map((d) => d.label)).to.include.members(["RECEIVED", "SETTLED", "QUEUED"]);
    expect(settle.labels[0]).to.match(/^≤ \d/);
    expect(corridors.labels).to.include.members(["GBP → GBP", "JPY → JPY"]);
    expect(await textOf(page.locator("#chart-corridors-summary"))).to.include("JPY → JPY: 1 payment, 5,000 JPY");
    for (const id of ["chart-status", "chart-settle", "chart-corridors"]) {
      const box = await page.locator(`#${id}`).boundingBox();
      expect(box && box.width > 100 && box.height > 100, id).to.equal(true);
    }
  });

  it("fits a laptop and a narrow window: screenshots, and no sideways page scrolling", async () => {
    for (const [name, viewport] of [["laptop", { width: 1366, height: 800 }], ["narrow", { width: 420, height: 900 }]] as const) {
      await page.setViewportSize(viewport);
      for (const section of TABS) {
        await tab(section).click();
        if (section === "Payments") await page.getByRole("button", { name: `Details of payment ${gross.endToEndId}` }).click();
        await page.waitForTimeout(150); // charts resize on the next frame
        const overflow = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, width: window.innerWidth }));
        expect(overflow.scroll, `${name} ${section}: page wider than the window`).to.be.at.most(overflow.width);
        await page.screenshot({ path: path.join(SCREENSHOTS, `dashboard-${name}-${section.toLowerCase()}.png`), fullPage: true });
      }
    }
    await page.setViewportSize({ width: 1366, height: 800 });
  });

  it("formats money without floats and parses event frames split anywhere (the page's own modules)", async () => {
    // A string, so that TypeScript leaves import() alone (it would compile it to require()).
    const results: { events: unknown[]; money: string[] } = await page.evaluate(`(async () => {
      const { formatMoney } = await import("./format.js");
      const { createSseParser } = await import("./sse.js");
      const events = [];
      const push = createSseParser((event) => events.push(event));
      for (const chunk of [": keep-alive\\r", "\\n\\r\\nevent: payment\\r", "\\nid: 7\\ndata: {\\"a\\":", "1}\\ndata: x\\n", "\\nretry: 10\\n\\ndata: y\\r\\r"]) push(chunk);
      const money = [["123456789012345678901", "GBP"], ["5", "GBP"], ["-1", "BHD"], ["1000", "JPY"], ["0", "KWD"], ["99", "USD"]].map(([v, c]) => formatMoney(v, c));
      return { events, money };
    })()`);
    expect(results.money).to.deep.equal(["1,234,567,890,123,456,789.01 GBP", "0.05 GBP", "-0.001 BHD", "1,000 JPY", "0.000 KWD", "0.99 USD"]);
    expect(results.events).to.deep.equal([{ type: "payment", data: '{"a":1}\nx', id: "7" }, { type: "message", data: "y", id: "7" }]);
  });

  it("signs out: the key is gone and the data with it", async () => {
    await page.getByRole("button", { name: "Sign out" }).click();
    await page.getByLabel("Treasury API key").waitFor();
    expect(await page.evaluate(() => sessionStorage.length)).to.equal(0);
    expect(await page.locator("#payments-table tbody tr[data-uetr]").count()).to.equal(0);
  });

  it("logged no console error and asked nothing of any other host", () => {
    expect(consoleErrors, consoleErrors.join("\n")).to.deep.equal([]);
    expect(foreignRequests).to.deep.equal([]);
  });
});
