import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Kysely } from "kysely";
import type { ApiKeyRole, Database } from "../db/schema";
import type { Caller } from "../payments/types";
import { failure, success, type Result } from "../shared/result";

/**
 * API keys: one or more per bank (role `bank`), plus treasury and admin keys. Only a SHA-256 hash
 * of each key is stored; the key itself is shown once, when created. Keys are 32 random bytes, so a
 * plain hash (no salt, no stretching) is enough to make a stolen table useless.
 */
export type AuthErrorCode = "unknown_participant" | "bic_required" | "key_not_found";

export interface ApiKeyInfo {
  id: string;
  role: ApiKeyRole;
  bic: string | null;
  label: string;
  createdAt: number;
  revokedAt: number | null;
}

export interface AuthService {
  createKey(input: { role: ApiKeyRole; bic?: string; label?: string }): Promise<Result<{ key: string; info: ApiKeyInfo }, AuthErrorCode>>;
  authenticate(key: string): Promise<Caller | undefined>;
  revokeKey(id: string): Promise<Result<ApiKeyInfo, AuthErrorCode>>;
  listKeys(): Promise<ApiKeyInfo[]>;
}

const KEY_PREFIX = "crd_";

export function hashApiKey(key: string): string {
  return createHash("sha256").update(key).digest("hex");
}

export function createAuthService(deps: { db: Kysely<Database>; now?: () => number }): AuthService {
  const { db } = deps;
  const now = deps.now ?? Date.now;
  const toInfo = (row: { id: string; role: ApiKeyRole; bic: string | null; label: string; created_at: number; revoked_at: number | null }): ApiKeyInfo => ({
    id: row.id,
    role: row.role,
    bic: row.bic,
    label: row.label,
    createdAt: Number(row.created_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
  });

  return {
    async createKey({ role, bic, label }) {
      if (role === "bank" && !bic) return failure("bic_required", "a bank key must name its bank's BIC");
      if (bic) {
        const participant = await db.selectFrom("participants").select("bic").where("bic", "=", bic).executeTakeFirst();
        if (!participant) return failure("unknown_participant", `no participant with BIC ${bic}`, { bic });
      }
      const key = KEY_PREFIX + randomBytes(32).toString("base64url");
      const row = {
        id: randomUUID(),
        key_hash: hashApiKey(key),
        role,
        bic: role === "bank" ? bic! : (bic ?? null),
        label: label ?? `${role}${bic ? ` ${bic}` : ""}`,
        created_at: now(),
        revoked_at: null,
      };
      await db.insertInto("api_keys").values(row).execute();
      return success({ key, info: toInfo(row) });
    },

    async authenticate(key) {
      if (!key.startsWith(KEY_PREFIX)) return undefined;
      const row = await db
        .selectFrom("api_keys")
        .select(["id", "role", "bic"])
        .where("key_hash", "=", hashApiKey(key))
        .where("revoked_at", "is", null)
        .executeTakeFirst();
      return row && { keyId: row.id, role: row.role, bic: row.bic };
    },

    async revokeKey(id) {
      const row = await db.selectFrom("api_keys").selectAll().where("id", "=", id).executeTakeFirst();
      if (!row) return failure("key_not_found", `no API key ${id}`, { id });
      if (row.revoked_at !== null) return success(toInfo(row));
      const revokedAt = now();
      await db.updateTable("api_keys").set({ revoked_at: revokedAt }).where("id", "=", id).execute();
      return success(toInfo({ ...row, revoked_at: revokedAt }));
    },

    async listKeys() {
      const rows = await db.selectFrom("api_keys").selectAll().orderBy("created_at").execute();
      return rows.map(toInfo);
    },
  };
}
