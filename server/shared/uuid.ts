/**
 * A UUID v4 in lower case: a payment's UETR (as SWIFT gpi and ISO 20022's UUIDv4Identifier
 * require) and a funds movement's id.
 */
export const UUID_V4 = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

export function isUuidV4(text: string): boolean {
  return UUID_V4.test(text);
}
