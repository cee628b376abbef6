import { IsoMessageError } from "./errors";
import { child, type XmlTree } from "./tree";
import { assertWellFormed, guardXml, parseTree, type XmlReadOptions } from "./xml";
import { decodeXmlText } from "./xml-text";

export type IsoMessageType = "pacs.008" | "pacs.002" | "pacs.004" | "camt.053" | "camt.054";

/** The message variants whose layout the readers know, first and last `.001.NN`. */
const SUPPORTED_VARIANTS: Readonly<Record<IsoMessageType, readonly [number, number]>> = Object.freeze({
  "pacs.008": [8, 12],
  "pacs.002": [10, 14],
  "pacs.004": [9, 13],
  "camt.053": [2, 13],
  "camt.054": [2, 13],
});

const ISO_NAMESPACE = /^urn:iso:std:iso:20022:tech:xsd:([a-z]{4}\.[0-9]{3})\.001\.([0-9]{2})$/;
/** Comments, CDATA and processing instructions are matched whole so a Document inside them is skipped. */
const DOCUMENT_START = /<!--[\s\S]*?-->|<!\[CDATA\[[\s\S]*?\]\]>|<\?[\s\S]*?\?>|<(?:([A-Za-z_][\w.-]*):)?Document(?=[\s/>])/g;
const ATTRIBUTE = /\s+([\w.:-]+)\s*=\s*(?:"([^"]*)"|'([^']*)')/y;

export interface DetectedMessage {
  type: IsoMessageType;
  /** The message definition, e.g. "pacs.008.001.08". */
  version: string;
}

export interface IsoDocument extends DetectedMessage {
  /** The Document element's tree. */
  document: XmlTree;
  /** The head.001 business application header beside the Document, when the message has one. */
  appHdr: XmlTree;
}

/**
 * Names the message from its Document element's namespace (prefixed or default). Checks size and
 * refuses DOCTYPE/ENTITY like every reader, but not well-formedness: that is the parse's job.
 * Throws wrong_namespace for a Document outside the ISO 20022 message namespaces, and
 * unsupported_message for a message or variant Corridor does not read.
 */
export function detectMessage(xml: string, options?: XmlReadOptions): DetectedMessage {
  return messageOfNamespace(documentNamespace(guardXml(xml, options)));
}

/**
 * Every reader's way in: guards, well-formedness, namespace, then the parse. The Document is the
 * root, or a child of whatever business envelope root carries it beside its AppHdr.
 */
export function readIsoDocument(xml: string, expected: IsoMessageType | readonly IsoMessageType[], options?: XmlReadOptions): IsoDocument {
  const text = guardXml(xml, options);
  assertWellFormed(text);
  const detected = messageOfNamespace(documentNamespace(text));
  const accepted: readonly IsoMessageType[] = typeof expected === "string" ? [expected] : expected;
  if (!accepted.includes(detected.type)) {
    throw new IsoMessageError("unsupported_message", `expected ${accepted.join(" or ")}, got ${detected.version}`, {
      expected: accepted,
      version: detected.version,
    });
  }
  const { rootName, root } = parseTree(text);
  const document = rootName === "Document" ? root : child(root, "Document");
  if (document === undefined) {
    throw new IsoMessageError("missing_element", "the Document must be the root element or a child of the envelope root", { element: "Document" });
  }
  return { ...detected, document, appHdr: rootName === "Document" ? undefined : child(root, "AppHdr") };
}

function messageOfNamespace(namespace: string | null): DetectedMessage {
  const match = namespace === null ? null : ISO_NAMESPACE.exec(namespace);
  if (!match) {
    throw new IsoMessageError("wrong_namespace", `the Document's namespace ${JSON.stringify(namespace)} is not an ISO 20022 message namespace`, { namespace });
  }
  const version = `${match[1]}.001.${match[2]}`;
  const variants = (SUPPORTED_VARIANTS as Record<string, readonly [number, number] | undefined>)[match[1]];
  const variant = Number(match[2]);
  if (!variants || variant < variants[0] || variant > variants[1]) {
    throw new IsoMessageError("unsupported_message", `${version} is not a message Corridor reads`, { version });
  }
  return { type: match[1] as IsoMessageType, version };
}

/** The namespace bound to the first Document element's prefix, on the element or an ancestor. */
function documentNamespace(text: string): string | null {
  const start = findDocumentStart(text);
  if (start === null) throw new IsoMessageError("unsupported_message", "no ISO 20022 Document element", { element: "Document" });
  const declaration = start[1] === undefined ? "xmlns" : `xmlns:${start[1]}`;
  const own = attributesAt(text, start.index + start[0].length).get(declaration);
  return own !== undefined ? decodeXmlText(own) : inheritedDeclaration(text.slice(0, start.index), declaration);
}

function findDocumentStart(text: string): RegExpExecArray | null {
  DOCUMENT_START.lastIndex = 0;
  for (let match = DOCUMENT_START.exec(text); match !== null; match = DOCUMENT_START.exec(text)) {
    if (match[0].endsWith("Document")) return match;
  }
  return null;
}

function attributesAt(text: string, position: number): Map<string, string> {
  const attributes = new Map<string, string>();
  ATTRIBUTE.lastIndex = position;
  let match: RegExpExecArray | null;
  while ((match = ATTRIBUTE.exec(text)) !== null) attributes.set(match[1], match[2] ?? match[3]);
  return attributes;
}

/** Approximates scoping by the last declaration before the Document; envelopes nest only a level or two. */
function inheritedDeclaration(before: string, declaration: string): string | null {
  const pattern = new RegExp(`\\s${declaration.replace(/[.-]/g, "\\$&")}\\s*=\\s*(?:"([^"]*)"|'([^']*)')`, "g");
  let last: RegExpExecArray | null = null;
  for (let match = pattern.exec(before); match !== null; match = pattern.exec(before)) last = match;
  return last === null ? null : decodeXmlText(last[1] ?? last[2]);
}
