import { XMLParser, XMLValidator } from "fast-xml-parser";
import { IsoMessageError } from "./errors";
import type { XmlTree } from "./tree";

/** The default ceiling on a message's UTF-8 size: far above any real pacs/camt file we exchange. */
export const DEFAULT_MAX_BYTES = 1024 * 1024;

export interface XmlReadOptions {
  /** Refuse messages larger than this many UTF-8 bytes (too_large). Default 1 MiB. */
  maxBytes?: number;
}

/**
 * Elements that may occur more than once in the messages we read. The parser makes them arrays
 * even when they occur once, so one message shape serves one and many.
 */
const REPEATABLE = new Set([
  "CdtTrfTxInf", "TxInfAndSts", "OrgnlGrpInfAndSts", "StsRsnInf", "TxInf", "RtrRsnInf", "AddtlInf",
  "Ustrd", "Stmt", "Ntfctn", "Bal", "Ntry", "NtryDtls", "TxDtls",
]);

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: "@",
  removeNSPrefix: true,
  parseTagValue: false,
  parseAttributeValue: false,
  processEntities: false,
  htmlEntities: false,
  ignoreDeclaration: true,
  ignorePiTags: true,
  cdataPropName: "#cdata",
  // jPath strings cost about a fifth of the parse time and nothing here reads them
  jPath: false,
  isArray: (name: string, _path: unknown, _isLeaf: boolean, isAttribute: boolean) => !isAttribute && REPEATABLE.has(name),
});

/**
 * The checks every inbound message passes before the parser sees it: size, then no DOCTYPE or
 * ENTITY declaration anywhere (not even in a comment: no bank file needs one, and refusing them
 * outright closes entity expansion and external-entity attacks). Returns the text without a BOM.
 */
export function guardXml(xml: string, options: XmlReadOptions = {}): string {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;
  // a UTF-16 unit is at most 3 UTF-8 bytes, so a short text needs no byte count
  if (xml.length * 3 > maxBytes) {
    const bytes = Buffer.byteLength(xml, "utf8");
    if (bytes > maxBytes) throw new IsoMessageError("too_large", `the message is ${bytes} bytes; at most ${maxBytes} are accepted`, { bytes, maxBytes });
  }
  const text = xml.charCodeAt(0) === 0xfeff ? xml.slice(1) : xml;
  const declaration = /<!(DOCTYPE|ENTITY)/i.exec(text);
  if (declaration) {
    throw new IsoMessageError("doctype_forbidden", `${declaration[1].toUpperCase()} declarations are not accepted`, {
      declaration: declaration[1].toUpperCase(),
    });
  }
  return text;
}

/** Refuses text that is not one well-formed XML document (malformed_xml, with line and column). */
export function assertWellFormed(text: string): void {
  const verdict = XMLValidator.validate(text);
  if (verdict === true) return;
  const { msg, line, col } = verdict.err;
  throw new IsoMessageError("malformed_xml", `malformed XML at line ${line}, column ${col}: ${msg}`, { line, column: col, reason: msg });
}

/** Parses guarded, well-formed text into the tree; returns its single root element and name. */
export function parseTree(text: string): { rootName: string; root: XmlTree } {
  const top = parser.parse(text) as Record<string, unknown>;
  const names = Object.keys(top);
  if (names.length !== 1 || Array.isArray(top[names[0]])) {
    throw new IsoMessageError("malformed_xml", "the document must have exactly one root element", { roots: names });
  }
  return { rootName: names[0], root: top[names[0]] };
}
