import { readFileSync } from "node:fs";

/**
 * A sanctions list: BICs and party names that no payment may involve.
 *
 * File formats (chosen by content: a file whose first non-blank character is `[` or `{` is JSON):
 *
 * - JSON: an array of entries, or `{ "entries": [...] }`. Each entry is
 *   `{ "type": "bic" | "name", "value": string, "reference"?: string }`; `reference` is the list's
 *   own identifier of the entry (e.g. "OFAC-SDN-12345") and is reported with a hit.
 * - Text: one entry per line. `#` starts a comment; blank lines are skipped. A line is
 *   `bic: <BIC>` or `name: <name>`; without a prefix, a line shaped like a BIC (8 or 11 letters
 *   and digits, ISO 9362) is a BIC and anything else a name. The reference is `line <n>`.
 *
 * Matching:
 * - BICs are compared upper case without whitespace. An 8-character entry lists the whole
 *   institution, so it matches every branch (`BADBGB2L` matches `BADBGB2LXXX` and `BADBGB2L123`);
 *   an 11-character entry matches that branch only, and `XXX` is the same as no branch.
 * - Names match exactly after Unicode NFKC normalization, lower-casing and removing all
 *   whitespace: `  ACME   Holdings ` matches `acme holdings`. No fuzzy matching: a near miss is not
 *   a hit, which is the documented limit of this screen.
 */

export type SanctionsEntryType = "bic" | "name";

export interface SanctionsEntry {
  type: SanctionsEntryType;
  value: string;
  reference: string | null;
}

export type ScreenedParty = "debtorAgent" | "creditorAgent" | "debtor" | "creditor";

export interface SanctionsHit {
  party: ScreenedParty;
  /** What was screened, as given. */
  screened: string;
  entry: SanctionsEntry;
}

export interface ScreeningSubject {
  debtorAgent: string;
  creditorAgent: string;
  debtorName?: string | null;
  creditorName?: string | null;
}

export interface SanctionsList {
  readonly size: number;
  matchBic(bic: string): SanctionsEntry | undefined;
  matchName(name: string): SanctionsEntry | undefined;
  /** The first hit among the agents' BICs and the parties' names, or undefined when clear. */
  screen(subject: ScreeningSubject): SanctionsHit | undefined;
}

export class SanctionsListError extends Error {
  readonly code = "invalid_sanctions_list";
}

const BIC_SHAPE = /^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/;

export function normalizeBic(bic: string): string {
  return bic.replace(/\s+/g, "").toUpperCase();
}

export function normalizeName(name: string): string {
  return name.normalize("NFKC").toLowerCase().replace(/\s+/g, "");
}

/** The institution (first 8 characters) and the branch, `XXX` when none is given. */
function splitBic(bic: string): { institution: string; branch: string } {
  const normalized = normalizeBic(bic);
  return { institution: normalized.slice(0, 8), branch: normalized.length === 11 ? normalized.slice(8) : "XXX" };
}

export function createSanctionsList(entries: readonly SanctionsEntry[]): SanctionsList {
  const institutions = new Map<string, SanctionsEntry>();
  const branches = new Map<string, SanctionsEntry>();
  const names = new Map<string, SanctionsEntry>();
  for (const entry of entries) {
    if (entry.type === "name") {
      names.set(normalizeName(entry.value), entry);
    } else if (normalizeBic(entry.value).length === 8) {
      institutions.set(normalizeBic(entry.value), entry);
    } else {
      const { institution, branch } = splitBic(entry.value);
      branches.set(institution + branch, entry);
    }
  }

  const matchBic = (bic: string): SanctionsEntry | undefined => {
    const { institution, branch } = splitBic(bic);
    return institutions.get(institution) ?? branches.get(institution + branch);
  };
  const matchName = (name: string): SanctionsEntry | undefined => names.get(normalizeName(name));

  return {
    size: entries.length,
    matchBic,
    matchName,
    screen(subject) {
      const candidates: [ScreenedParty, string | null | undefined, (value: string) => SanctionsEntry | undefined][] = [
        ["debtorAgent", subject.debtorAgent, matchBic],
        ["creditorAgent", subject.creditorAgent, matchBic],
        ["debtor", subject.debtorName, matchName],
        ["creditor", subject.creditorName, matchName],
      ];
      for (const [party, screened, match] of candidates) {
        if (!screened) continue;
        const entry = match(screened);
        if (entry) return { party, screened, entry };
      }
      return undefined;
    },
  };
}

export const emptySanctionsList = (): SanctionsList => createSanctionsList([]);

/** Parses a sanctions list in either format (see the top of this file). */
export function parseSanctionsList(content: string, source = "sanctions list"): SanctionsList {
  const trimmed = content.trimStart();
  const entries = trimmed.startsWith("[") || trimmed.startsWith("{") ? parseJson(trimmed, source) : parseText(content, source);
  return createSanctionsList(entries);
}

export function loadSanctionsList(file: string): SanctionsList {
  return parseSanctionsList(readFileSync(file, "utf8"), file);
}

function parseJson(content: string, source: string): SanctionsEntry[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(content);
  } catch (error) {
    throw new SanctionsListError(`${source}: not valid JSON (${(error as Error).message})`);
  }
  const list = Array.isArray(parsed) ? parsed : (parsed as { entries?: unknown }).entries;
  if (!Array.isArray(list)) throw new SanctionsListError(`${source}: expected an array of entries or { "entries": [...] }`);
  return list.map((item, index) => jsonEntry(item, `${source} entry ${index}`));
}

function jsonEntry(item: unknown, where: string): SanctionsEntry {
  const { type, value, reference } = (item ?? {}) as Record<string, unknown>;
  if (type !== "bic" && type !== "name") throw new SanctionsListError(`${where}: type must be "bic" or "name"`);
  if (typeof value !== "string" || value.trim() === "") throw new SanctionsListError(`${where}: value must be a non-empty string`);
  if (reference !== undefined && typeof reference !== "string") throw new SanctionsListError(`${where}: reference must be a string`);
  return checkedEntry({ type, value: value.trim(), reference: reference ?? null }, where);
}

function parseText(content: string, source: string): SanctionsEntry[] {
  const entries: SanctionsEntry[] = [];
  content.split(/\r?\n/).forEach((raw, index) => {
    const line = raw.replace(/#.*$/, "").trim();
    if (line === "") return;
    const reference = `line ${index + 1}`;
    const prefixed = /^(bic|name)\s*:\s*(.+)$/i.exec(line);
    const entry: SanctionsEntry = prefixed
      ? { type: prefixed[1].toLowerCase() as SanctionsEntryType, value: prefixed[2].trim(), reference }
      : { type: BIC_SHAPE.test(normalizeBic(line)) ? "bic" : "name", value: line, reference };
    entries.push(checkedEntry(entry, `${source} ${reference}`));
  });
  return entries;
}

/** A listed BIC that is not BIC-shaped would silently never match: refuse the file instead. */
function checkedEntry(entry: SanctionsEntry, where: string): SanctionsEntry {
  if (entry.type === "bic" && !BIC_SHAPE.test(normalizeBic(entry.value))) {
    throw new SanctionsListError(`${where}: ${JSON.stringify(entry.value)} is not a BIC (8 or 11 letters and digits)`);
  }
  return entry;
}
