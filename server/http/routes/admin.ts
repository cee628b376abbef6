import { Router } from "express";
import type { Kysely } from "kysely";
import type { AuthService, ApiKeyInfo } from "../../auth/service";
import type { Database } from "../../db/schema";
import type { Participant, ParticipantService } from "../../participants/service";
import { fromFailure } from "../errors";
import { runIdempotent } from "../idempotency";
import { callerOf, parse, requireRole } from "../middleware";
import { BicParams, CreateKeyRequest, CreateParticipantRequest, IdParams, UpdateParticipantRequest } from "../schemas";

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

export function participantToJson(participant: Participant) {
  return { ...participant, createdAt: iso(participant.createdAt) };
}

function keyToJson(info: ApiKeyInfo) {
  return { ...info, createdAt: iso(info.createdAt), revokedAt: iso(info.revokedAt) };
}

/** The admin's API: participants (banks) and API keys. Every write is idempotent. */
export function participantRoutes(deps: { db: Kysely<Database>; participants: ParticipantService }): Router {
  const { db, participants } = deps;
  const router = Router();

  router.get("/", async (_req, res) => {
    res.json({ participants: (await participants.list()).map(participantToJson) });
  });

  router.post("/", requireRole("admin"), async (req, res) => {
    const body = parse(CreateParticipantRequest, req.body, "participant");
    const outcome = await runIdempotent(db, callerOf(res), req, async () => {
      const created = await participants.register(body);
      if (!created.ok) throw fromFailure(created);
      return { status: 201, body: { participant: participantToJson(created.value.participant), webhookSecret: created.value.webhookSecret } };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  router.patch("/:bic", requireRole("admin"), async (req, res) => {
    const { bic } = parse(BicParams, req.params, "path");
    const body = parse(UpdateParticipantRequest, req.body, "participant update");
    const outcome = await runIdempotent(db, callerOf(res), req, async () => {
      const updated = await participants.update(bic, body);
      if (!updated.ok) throw fromFailure(updated);
      return { status: 200, body: { participant: participantToJson(updated.value.participant), webhookSecret: updated.value.webhookSecret ?? null } };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  return router;
}

export function keyRoutes(deps: { db: Kysely<Database>; auth: AuthService }): Router {
  const { db, auth } = deps;
  const router = Router();
  router.use(requireRole("admin"));

  router.get("/", async (_req, res) => {
    res.json({ keys: (await auth.listKeys()).map(keyToJson) });
  });

  router.post("/", async (req, res) => {
    const body = parse(CreateKeyRequest, req.body, "key");
    const outcome = await runIdempotent(db, callerOf(res), req, async () => {
      const created = await auth.createKey(body);
      if (!created.ok) throw fromFailure(created);
      return { status: 201, body: { key: created.value.key, apiKey: keyToJson(created.value.info) } };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  router.post("/:id/revoke", async (req, res) => {
    const { id } = parse(IdParams, req.params, "path");
    const outcome = await runIdempotent(db, callerOf(res), req, async () => {
      const revoked = await auth.revokeKey(id);
      if (!revoked.ok) throw fromFailure(revoked);
      return { status: 200, body: { apiKey: keyToJson(revoked.value) } };
    }, { atomic: false });
    res.status(outcome.status).json(outcome.body);
  });

  return router;
}
