/** ISO 20022 messages for Corridor: pure functions from XML text to typed values and back. */
export { decimalToMinorUnits, minorUnitsToDecimal } from "./amounts";
export { detectMessage, type DetectedMessage, type IsoMessageType } from "./detect";
export { IsoMessageError, type IsoErrorCode, type IsoReasonCode } from "./errors";
export { isUuidV4, isValidBic, isValidIban } from "./identifiers";
export { parseCamt, type AccountStatement, type Balance, type CamtMessage, type EntryTransaction, type StatementEntry } from "./camt";
export { buildPacs002, parsePacs002, type StatusReport, type StatusReportEntry, type TransactionStatus } from "./pacs002";
export { buildPacs004, parsePacs004, type PaymentReturnMessage, type ReturnEntry } from "./pacs004";
export { parsePacs008, type BusinessHeader, type Money, type Pacs008Message, type Pacs008Transaction, type Pacs008TransactionResult, type Party } from "./pacs008";
export { DEFAULT_MAX_BYTES, type XmlReadOptions } from "./xml";
