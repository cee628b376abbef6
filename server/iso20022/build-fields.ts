import { minorUnitsToDecimal } from "./amounts";
import { IsoMessageError } from "./errors";
import type { Money, OriginalReferences } from "./fields";
import { isUuidV4, isValidBic } from "./identifiers";
import { element, type XmlElement } from "./xml-writer";

/**
 * The building blocks Corridor's outbound messages share. Each one checks its value against the
 * ISO 20022 type it is written as, so a message we send is one the receiving bank can validate.
 */

const ISO_DATE = /^\d{4}-\d{2}-\d{2}$/;
const ISO_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:Z|[+-]\d{2}:\d{2})?$/;
const EXTERNAL_CODE = /^[A-Z0-9]{4}$/;
/** Max105Text: the length of one AddtlInf occurrence; longer narratives take several. */
const ADDITIONAL_INFORMATION_LENGTH = 105;

function invalid(elementName: string, expected: string, value: unknown): IsoMessageError {
  return new IsoMessageError("invalid_element", `${elementName} must be ${expected}`, { element: elementName, value });
}

/** A Max35Text element (identifiers): 1 to 35 characters. */
export function max35Element(name: string, value: string): XmlElement {
  const length = [...value].length;
  if (length < 1 || length > 35) throw invalid(name, "1 to 35 characters", value);
  return element(name, value);
}

/** An optional Max35Text element. */
function optionalMax35Element(name: string, value: string | null | undefined): XmlElement | null {
  return value === null || value === undefined ? null : max35Element(name, value);
}

export function dateTimeElement(name: string, value: string): XmlElement {
  if (!ISO_DATE_TIME.test(value)) throw invalid(name, "an ISO 8601 date-time", value);
  return element(name, value);
}

export function optionalDateElement(name: string, value: string | null): XmlElement | null {
  if (value === null) return null;
  if (!ISO_DATE.test(value)) throw invalid(name, "an ISO 8601 date (YYYY-MM-DD)", value);
  return element(name, value);
}

function optionalUetrElement(name: string, value: string | null): XmlElement | null {
  if (value === null) return null;
  if (!isUuidV4(value)) throw invalid(name, "a lower-case UUID v4", value);
  return element(name, value);
}

/** The original payment's references, in the order pacs.002 and pacs.004 both use. */
export function originalReferenceElements(references: OriginalReferences): (XmlElement | null)[] {
  return [
    optionalMax35Element("OrgnlInstrId", references.originalInstructionId),
    optionalMax35Element("OrgnlEndToEndId", references.originalEndToEndId),
    optionalMax35Element("OrgnlTxId", references.originalTransactionId),
    optionalUetrElement("OrgnlUETR", references.originalUetr),
  ];
}

/** An agent identified by its BIC: `<name><FinInstnId><BICFI>…`. */
export function optionalAgentElement(name: string, bic: string | null | undefined): XmlElement | null {
  if (bic === null || bic === undefined) return null;
  if (!isValidBic(bic)) throw invalid(name, "a BIC (ISO 9362)", bic);
  return element(name, [element("FinInstnId", [element("BICFI", bic)])]);
}

/** An amount in major units with its currency, from exact minor units. */
export function amountElement(name: string, money: Money): XmlElement {
  if (money.value <= 0n) throw invalid(name, "a positive amount", money.value.toString());
  return element(name, minorUnitsToDecimal(money.value, money.currency), { Ccy: money.currency });
}

/**
 * A reason block (`StsRsnInf`, `RtrRsnInf`): the code as Rsn/Cd when it has the shape of an ISO
 * external code, else as Rsn/Prtry; the narrative split over as many AddtlInf as it needs.
 */
export function optionalReasonElement(name: string, reason: string | null, additionalInformation: string | null): XmlElement | null {
  if (reason === null && additionalInformation === null) return null;
  const code = reason === null ? null : EXTERNAL_CODE.test(reason) ? element("Cd", reason) : max35Element("Prtry", reason);
  return element(name, [code && element("Rsn", [code]), ...additionalInformationElements(additionalInformation ?? "")]);
}

/**
 * Wraps the narrative at spaces into AddtlInf lines (a word longer than a line is cut), so a
 * reader that joins the lines with a space gets the text back.
 */
function additionalInformationElements(narrative: string): XmlElement[] {
  const lines: XmlElement[] = [];
  let rest = narrative.trim();
  while ([...rest].length > ADDITIONAL_INFORMATION_LENGTH) {
    const window = [...rest].slice(0, ADDITIONAL_INFORMATION_LENGTH + 1).join("");
    const space = window.lastIndexOf(" ");
    const end = space > 0 ? space : window.length - [...window].slice(-1)[0].length;
    lines.push(element("AddtlInf", rest.slice(0, end).trimEnd()));
    rest = rest.slice(end).trimStart();
  }
  if (rest !== "") lines.push(element("AddtlInf", rest));
  return lines;
}
