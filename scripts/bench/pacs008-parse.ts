/**
 * pacs.008 parsing throughput on one core: how many single-transaction messages the size of the
 * CBPR+ c105 sample `parsePacs008` reads per second (target: 5,000). The baseline in the same
 * run is fast-xml-parser's bare parse of the same text, so the printed ratio shows what our
 * guards, well-formedness check and field validation cost on top of the parser itself.
 *
 * Run: `npx ts-node scripts/bench/pacs008-parse.ts` (BENCH_PACS008_SECONDS, default 3).
 */
import { readFileSync } from "node:fs";
import path from "node:path";
import { XMLParser } from "fast-xml-parser";
import { parsePacs008 } from "../../server/iso20022/pacs008";

const SAMPLES_DIR = process.env.ISO20022_SAMPLES_DIR ?? path.resolve(__dirname, "../..", "../shared/iso20022");
const SAMPLE = path.join(SAMPLES_DIR, "cbpr-c105-pacs008-AtoB.xml");
const TARGET_PER_SECOND = 5_000;

export interface ParseMeasurement {
  messages: number;
  seconds: number;
  perSecond: number;
  bytesPerMessage: number;
}

/** Parses distinct copies of the c105 sample (a fresh UETR each) for `seconds` after a warm-up. */
export async function measurePacs008Parsing(options: { seconds?: number } = {}): Promise<ParseMeasurement> {
  const messages = sampleMessages();
  return measure(options.seconds ?? 3, messages, (xml) => {
    const [result] = parsePacs008(xml).transactions;
    if (!result.ok) throw new Error(`the benchmark message was rejected: ${result.message}`);
  });
}

/** The same loop around fast-xml-parser's own parse, with no checks: the floor we build on. */
export async function measureBareParsing(options: { seconds?: number } = {}): Promise<ParseMeasurement> {
  const parser = new XMLParser({ ignoreAttributes: false, removeNSPrefix: true, parseTagValue: false, processEntities: false });
  return measure(options.seconds ?? 3, sampleMessages(), (xml) => parser.parse(xml));
}

/** A thousand variants of the sample that differ only in their UETR, so no result can be cached. */
function sampleMessages(): string[] {
  const sample = readFileSync(SAMPLE, "utf8");
  return Array.from({ length: 1000 }, (_, index) => sample.replace("65581be6f001", index.toString(16).padStart(12, "0")));
}

function measure(seconds: number, messages: string[], parse: (xml: string) => void): ParseMeasurement {
  for (const xml of messages) parse(xml);
  let count = 0;
  const started = process.hrtime.bigint();
  const deadline = started + BigInt(Math.round(seconds * 1e9));
  let now = started;
  while (now < deadline) {
    // check the clock once per batch: reading it per message would show up in the figure
    for (let index = 0; index < 100; index++) parse(messages[(count + index) % messages.length]);
    count += 100;
    now = process.hrtime.bigint();
  }
  const elapsed = Number(now - started) / 1e9;
  return { messages: count, seconds: elapsed, perSecond: count / elapsed, bytesPerMessage: Buffer.byteLength(messages[0]) };
}

async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_PACS008_SECONDS ?? 3);
  const bare = await measureBareParsing({ seconds });
  const ours = await measurePacs008Parsing({ seconds });
  const rate = (figure: ParseMeasurement) => `${Math.round(figure.perSecond).toLocaleString("en")} messages/s`;
  console.log(`pacs.008 (${ours.bytesPerMessage} bytes, 1 transaction), one core, ${seconds} s each`);
  console.log(`  parsePacs008:             ${rate(ours)}  (target ${TARGET_PER_SECOND.toLocaleString("en")})`);
  console.log(`  fast-xml-parser parse:    ${rate(bare)}`);
  console.log(`  parsePacs008 / bare parse: ${(ours.perSecond / bare.perSecond).toFixed(2)}`);
  if (ours.perSecond < TARGET_PER_SECOND) process.exitCode = 1;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
