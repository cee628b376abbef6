import { decodeXmlText } from "./xml-text";

/**
 * Reading the parser's plain-object tree. An element is a string when it has only text, an object
 * when it has attributes or children, an array when it repeats. Text comes back entity-decoded
 * and trimmed, with empty text as null, so callers see "absent" one way only.
 */
export type XmlTree = unknown;

/** The element at `path` below `node`, taking the first occurrence of a repeated element. */
export function child(node: XmlTree, ...path: string[]): XmlTree {
  let current = node;
  for (const name of path) {
    if (current === null || typeof current !== "object") return undefined;
    current = firstOf((current as Record<string, unknown>)[name]);
  }
  return current;
}

/** Every occurrence of the element `name` directly below `node`. */
export function children(node: XmlTree, name: string): XmlTree[] {
  if (node === null || typeof node !== "object") return [];
  const value = (node as Record<string, unknown>)[name];
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

/** The text of the element at `path`, or null when it is absent or empty. */
export function text(node: XmlTree, ...path: string[]): string | null {
  const element = path.length === 0 ? node : child(node, ...path);
  if (typeof element === "string") return element === "" ? null : decodeXmlText(element);
  if (element === null || typeof element !== "object") return null;
  const parts = element as Record<string, unknown>;
  const combined = joinText(parts["#text"]) + joinRaw(parts["#cdata"]);
  return combined.trim() === "" ? null : combined.trim();
}

/** The texts of every occurrence of `name` below `node`, empty ones left out. */
export function texts(node: XmlTree, name: string): string[] {
  return children(node, name).flatMap((element) => text(element) ?? []);
}

/** An attribute's decoded value, or null. */
export function attribute(node: XmlTree, name: string): string | null {
  if (node === null || typeof node !== "object" || Array.isArray(node)) return null;
  const value = (node as Record<string, unknown>)[`@${name}`];
  return typeof value === "string" ? decodeXmlText(value) : null;
}

function firstOf(value: unknown): unknown {
  return Array.isArray(value) ? value[0] : value;
}

/** CDATA is literal: it is never entity-decoded. */
function joinRaw(value: unknown): string {
  if (typeof value === "string") return value;
  return Array.isArray(value) ? value.filter((part) => typeof part === "string").join("") : "";
}

function joinText(value: unknown): string {
  return decodeXmlText(joinRaw(value));
}
