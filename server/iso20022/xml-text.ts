import { IsoMessageError } from "./errors";

const PREDEFINED: Readonly<Record<string, string>> = Object.freeze({ amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" });
/** The trailing bare `&` alternative catches every reference that is not one of the allowed forms. */
const REFERENCE = /&(?:(amp|lt|gt|quot|apos)|#([0-9]{1,7})|#x([0-9A-Fa-f]{1,6}));|&/g;
const ESCAPES: Readonly<Record<string, string>> = Object.freeze({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&apos;" });
/** Characters XML 1.0 cannot carry at all, escaped or not; lone surrogates included. */
const NOT_XML_CHAR = /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Decodes the references XML itself defines: the five predefined entities and numeric character
 * references. The parser runs with entity processing off (no DOCTYPE can define others), so this
 * is the only decoding; anything else after an `&` is malformed XML.
 */
export function decodeXmlText(raw: string): string {
  if (!raw.includes("&")) return raw;
  return raw.replace(REFERENCE, (reference: string, named?: string, decimal?: string, hex?: string) => {
    if (named) return PREDEFINED[named];
    const codePoint = decimal !== undefined ? Number(decimal) : hex !== undefined ? parseInt(hex, 16) : NaN;
    const char = isXmlCodePoint(codePoint) ? String.fromCodePoint(codePoint) : null;
    if (char === null) throw new IsoMessageError("malformed_xml", `invalid character reference ${JSON.stringify(reference)}`, { reference });
    return char;
  });
}

/**
 * Escapes text for an element or attribute value. Throws IsoMessageError("invalid_element") for
 * characters no XML 1.0 document may contain, rather than writing a file no bank can read.
 */
export function escapeXml(text: string, element: string): string {
  if (NOT_XML_CHAR.test(text)) throw new IsoMessageError("invalid_element", `${element} contains a character XML cannot carry`, { element });
  return text.replace(/[&<>"']/g, (char) => ESCAPES[char]);
}

function isXmlCodePoint(codePoint: number): boolean {
  if (Number.isNaN(codePoint)) return false;
  if (codePoint < 0x20) return codePoint === 0x9 || codePoint === 0xa || codePoint === 0xd;
  if (codePoint >= 0xd800 && codePoint <= 0xdfff) return false;
  return codePoint <= 0x10ffff && codePoint !== 0xfffe && codePoint !== 0xffff;
}
