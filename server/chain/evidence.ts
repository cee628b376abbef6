import { isUuidV4 } from "../shared/uuid";
import { bytes16ToUetr, uetrToBytes16 } from "./typed-data";

/**
 * The bytes32 evidence a deposit token's mint or burn carries, for the relay's funds movements: the
 * movement id's 16 UUID bytes followed by 16 zero bytes. The token accepts each evidence once, so a
 * movement can move the token supply at most once however often its intent is sent; and an event's
 * evidence names the movement it settles. Evidence of other shapes (e.g. a statement entry's hash,
 * from an issuer outside the relay) is foreign: it names no movement.
 */

const MOVEMENT_EVIDENCE = /^0x[0-9a-f]{32}0{32}$/;

/** The evidence of a funds movement's mint or burn; throws unless `movementId` is a UUID v4. */
export function movementEvidence(movementId: string): string {
  const id = movementId.toLowerCase();
  if (!isUuidV4(id)) throw new Error(`a funds movement id is a UUID v4: ${movementId}`);
  return `${uetrToBytes16(id)}${"0".repeat(32)}`;
}

/** The funds movement id (lower-case UUID) an evidence names, or null when it is foreign. */
export function movementIdFromEvidence(evidence: string): string | null {
  const word = evidence.toLowerCase();
  if (!MOVEMENT_EVIDENCE.test(word)) return null;
  const id = bytes16ToUetr(word.slice(0, 34));
  return isUuidV4(id) ? id : null;
}
