import { extendZodWithOpenApi } from "@asteasolutions/zod-to-openapi";
import { z } from "zod";
import { UUID_V4 } from "../shared/uuid";

extendZodWithOpenApi(z);

/** The largest amount the escrow accepts (2^128 - 1 minor units). */
const MAX_AMOUNT = (1n << 128n) - 1n;

export const Bic = z
  .string()
  .regex(/^[A-Z0-9]{4}[A-Z]{2}[A-Z0-9]{2}([A-Z0-9]{3})?$/, "a BIC: 8 or 11 upper-case characters (ISO 9362)")
  .openapi({ example: "THMSGB2LXXX" });

export const Currency = z.string().regex(/^[A-Z]{3}$/, "an ISO 4217 code").openapi({ example: "GBP" });

export const Uuid = z
  .string()
  .regex(UUID_V4, "a lower-case UUID v4")
  .openapi({ example: "eb6305c9-1f7f-49de-aed0-16487c27b42d" });

/** Minor units as a decimal digit string, 1 to 2^128 - 1: never a JSON number, never a fraction. */
export const MinorUnits = z
  .string()
  .regex(/^[0-9]+$/, "whole minor units as a string of digits (no sign, no decimal point)")
  .refine((v) => !/^[0-9]+$/.test(v) || BigInt(v) > 0n, "must be greater than zero")
  .refine((v) => !/^[0-9]+$/.test(v) || BigInt(v) <= MAX_AMOUNT, "must be at most 2^128 - 1")
  .openapi({ example: "245000", description: "Amount in the currency's minor units (GBP 245000 = £2,450.00)" });

export const Money = z.strictObject({ value: MinorUnits, currency: Currency }).openapi("Money");

const Party = z.strictObject({
  name: z.string().min(1).max(140).optional(),
  account: z.string().min(1).max(34).optional().openapi({ description: "IBAN or other account identifier; kept off chain" }),
});

export const Agent = z.strictObject({ bic: Bic });

export const CreatePaymentRequest = z
  .strictObject({
    uetr: Uuid.optional().openapi({ description: "Chosen by the caller (SWIFT gpi); generated when absent" }),
    endToEndId: z.string().min(1).max(35),
    debtorAgent: Agent,
    creditorAgent: Agent,
    amount: Money,
    debtor: Party.optional(),
    creditor: Party.optional(),
    remittanceInformation: z.string().min(1).max(140).optional(),
    expiresInSeconds: z.number().int().min(60).max(30 * 24 * 3600).optional().openapi({
      description: "Seconds until an unconfirmed lock is refunded to the debtor bank",
    }),
    quoteId: z.string().min(1).max(100).optional().openapi({
      description:
        "A quote of the debtor bank's (POST /v1/quotes): the payment is cross-currency, settled payment-versus-payment through the quote's provider. `amount` must be the quote's source amount; the creditor receives its target amount",
    }),
    settlement: z.enum(["gross", "net"]).optional().openapi({
      description:
        "gross (default): escrowed and released on its own. net: queued in its currency's open settlement window, settled with the window's net positions (not with quoteId)",
    }),
    priority: z.enum(["high", "normal"]).optional().openapi({ description: "A net payment's priority when its window cannot settle everything; default normal" }),
  })
  .openapi("CreatePaymentRequest");

export const PaymentStatus = z
  .enum(["RECEIVED", "QUEUED", "SUBMITTED", "LOCKED", "SETTLED", "CANCELLED", "REFUNDED", "REJECTED"])
  .openapi("PaymentStatus", { description: "QUEUED: a net payment waiting in its settlement window" });

export const StatusChange = z
  .object({
    status: PaymentStatus,
    at: z.string().openapi({ format: "date-time" }),
    reason: z.string().nullable(),
    txHash: z.string().nullable(),
    blockNumber: z.number().int().nullable(),
  })
  .openapi("StatusChange");

export const PaymentResponse = z
  .object({
    uetr: Uuid,
    endToEndId: z.string(),
    debtorAgent: Agent,
    creditorAgent: Agent,
    amount: Money,
    debtor: z.object({ name: z.string().nullable(), account: z.string().nullable() }),
    creditor: z.object({ name: z.string().nullable(), account: z.string().nullable() }),
    remittanceInformation: z.string().nullable(),
    references: z
      .object({ instructionId: z.string().nullable(), transactionId: z.string().nullable(), messageId: z.string().nullable() })
      .openapi({ description: "pacs.008 InstrId, TxId and GrpHdr MsgId (null for JSON payments)" }),
    status: PaymentStatus,
    statusReason: z.string().nullable(),
    settlement: z.enum(["gross", "net"]),
    priority: z.enum(["high", "normal"]),
    windowId: Uuid.nullable().openapi({ description: "A net payment's settlement window" }),
    expiresAt: z.string().openapi({ format: "date-time" }),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
    history: z.array(StatusChange).optional(),
    fx: z
      .object({
        quoteId: z.string(),
        provider: Agent,
        leg: z.enum(["A", "B"]).openapi({ description: "A: debtor bank to provider (source currency); B: provider to creditor bank (target currency)" }),
        linkedUetr: Uuid,
        creditorAgent: Agent,
        source: Money,
        target: Money,
      })
      .optional()
      .openapi({ description: "The two legs of a cross-currency payment, settled together by settlePvP" }),
  })
  .openapi("Payment");

export const ListPaymentsQuery = z.strictObject({
  status: PaymentStatus.optional(),
  debtorAgent: Bic.optional(),
  creditorAgent: Bic.optional(),
  bic: Bic.optional().openapi({ description: "Payments where this bank is the debtor or the creditor agent" }),
  currency: Currency.optional(),
  endToEndId: z.string().min(1).max(35).optional(),
  limit: z.coerce.number().int().min(1).max(200).default(50),
  cursor: z.string().min(1).max(200).optional(),
});

export const PaymentPage = z
  .object({ payments: z.array(PaymentResponse), nextCursor: z.string().nullable() })
  .openapi("PaymentPage");

export const UetrParams = z.strictObject({ uetr: Uuid });

export const AccountResponse = z
  .object({
    id: z.string(),
    kind: z.enum(["bank", "reserve", "fee"]),
    bic: z.string().nullable(),
    currency: Currency,
    posted: z.string().openapi({ description: "credits minus debits, posted (minor units)" }),
    pendingDebits: z.string(),
    pendingCredits: z.string(),
    available: z.string().openapi({ description: "posted minus pending debits" }),
    onChain: z.string().nullable().openapi({ description: "token balance on chain; null when the chain is unreachable" }),
  })
  .openapi("Account");

export const ParticipantResponse = z
  .object({
    bic: Bic,
    name: z.string(),
    country: z.string(),
    address: z.string(),
    status: z.enum(["active", "suspended"]),
    webhookUrl: z.string().nullable(),
    createdAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("Participant");

export const CreateParticipantRequest = z
  .strictObject({
    bic: Bic,
    name: z.string().min(1).max(140),
    country: z.string().regex(/^[A-Z]{2}$/, "an ISO 3166 alpha-2 code"),
    address: z.string().regex(/^0x[0-9a-fA-F]{40}$/, "a 20-byte hex address"),
    webhookUrl: z.url({ protocol: /^https?$/ }).optional(),
  })
  .openapi("CreateParticipantRequest");

export const UpdateParticipantRequest = z
  .strictObject({
    status: z.enum(["active", "suspended"]).optional(),
    webhookUrl: z.url({ protocol: /^https?$/ }).nullable().optional(),
    rotateWebhookSecret: z.boolean().optional(),
  })
  .openapi("UpdateParticipantRequest");

export const BicParams = z.strictObject({ bic: Bic });

export const CreateKeyRequest = z
  .strictObject({
    role: z.enum(["bank", "treasury", "admin"]),
    bic: Bic.optional(),
    label: z.string().min(1).max(100).optional(),
  })
  .openapi("CreateKeyRequest");

export const ApiKeyResponse = z
  .object({
    id: z.string(),
    role: z.enum(["bank", "treasury", "admin"]),
    bic: z.string().nullable(),
    label: z.string(),
    createdAt: z.string(),
    revokedAt: z.string().nullable(),
  })
  .openapi("ApiKey");

export const IdParams = z.strictObject({ id: z.string().min(1).max(100) });

export const ErrorResponse = z
  .object({
    error: z.object({
      code: z.string().openapi({ example: "unknown_participant" }),
      message: z.string(),
      details: z.record(z.string(), z.unknown()),
    }),
  })
  .openapi("Error");
