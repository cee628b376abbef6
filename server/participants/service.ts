import { randomBytes } from "node:crypto";
import type { Kysely } from "kysely";
import { getAddress, isAddress } from "ethers";
import type { Database, ParticipantStatus } from "../db/schema";
import { bankAccountId, type LedgerService } from "../ledger/service";
import { failure, success, type Result } from "../shared/result";

/** The relay's view of partner banks: BIC, chain address, status and webhook endpoint. */
export interface Participant {
  bic: string;
  name: string;
  country: string;
  address: string;
  status: ParticipantStatus;
  webhookUrl: string | null;
  createdAt: number;
}

export type ParticipantErrorCode = "participant_exists" | "address_in_use" | "invalid_address" | "unknown_participant";

export interface ParticipantService {
  register(input: { bic: string; name: string; country: string; address: string; webhookUrl?: string }): Promise<
    Result<{ participant: Participant; webhookSecret: string }, ParticipantErrorCode>
  >;
  update(bic: string, changes: { status?: ParticipantStatus; webhookUrl?: string | null; rotateWebhookSecret?: boolean }): Promise<
    Result<{ participant: Participant; webhookSecret?: string }, ParticipantErrorCode>
  >;
  get(bic: string): Promise<Participant | undefined>;
  list(): Promise<Participant[]>;
}

/** BICs are kept in their 11-character form, as the registry contract stores them. */
export function normalizeBic(bic: string): string {
  return bic.length === 8 ? `${bic}XXX` : bic;
}

export function createParticipantService(deps: {
  db: Kysely<Database>;
  ledger: LedgerService;
  currencies: readonly string[];
  now?: () => number;
}): ParticipantService {
  const { db, ledger } = deps;
  const now = deps.now ?? Date.now;
  const newSecret = () => randomBytes(32).toString("base64url");

  async function get(bic: string): Promise<Participant | undefined> {
    const row = await db.selectFrom("participants").selectAll().where("bic", "=", normalizeBic(bic)).executeTakeFirst();
    return row && toParticipant(row);
  }

  return {
    async register(input) {
      if (!isAddress(input.address)) return failure("invalid_address", `not an address: ${input.address}`, { address: input.address });
      const bic = normalizeBic(input.bic);
      const address = getAddress(input.address);
      if (await get(bic)) return failure("participant_exists", `participant ${bic} exists`, { bic });
      const holder = await db.selectFrom("participants").select("bic").where("address", "=", address).executeTakeFirst();
      if (holder) return failure("address_in_use", `address ${address} belongs to ${holder.bic}`, { address, bic: holder.bic });
      const webhookSecret = newSecret();
      await db.transaction().execute(async (trx) => {
        await trx
          .insertInto("participants")
          .values({
            bic,
            name: input.name,
            country: input.country,
            address,
            status: "active",
            webhook_url: input.webhookUrl ?? null,
            webhook_secret: webhookSecret,
            created_at: now(),
          })
          .execute();
        for (const currency of deps.currencies) {
          await ledger.ensureAccount(trx, { id: bankAccountId(bic, currency), kind: "bank", bic, currency });
        }
      });
      return success({ participant: (await get(bic))!, webhookSecret });
    },

    async update(bic, changes) {
      const current = await get(bic);
      if (!current) return failure("unknown_participant", `no participant ${bic}`, { bic });
      const webhookSecret = changes.rotateWebhookSecret ? newSecret() : undefined;
      await db
        .updateTable("participants")
        .set({
          ...(changes.status ? { status: changes.status } : {}),
          ...(changes.webhookUrl !== undefined ? { webhook_url: changes.webhookUrl } : {}),
          ...(webhookSecret ? { webhook_secret: webhookSecret } : {}),
        })
        .where("bic", "=", current.bic)
        .execute();
      return success({ participant: (await get(bic))!, ...(webhookSecret ? { webhookSecret } : {}) });
    },

    get,

    async list() {
      const rows = await db.selectFrom("participants").selectAll().orderBy("bic").execute();
      return rows.map(toParticipant);
    },
  };
}

function toParticipant(row: {
  bic: string;
  name: string;
  country: string;
  address: string;
  status: ParticipantStatus;
  webhook_url: string | null;
  created_at: number;
}): Participant {
  return {
    bic: row.bic,
    name: row.name,
    country: row.country,
    address: row.address,
    status: row.status,
    webhookUrl: row.webhook_url,
    createdAt: Number(row.created_at),
  };
}
