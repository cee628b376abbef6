import { escapeXml } from "./xml-text";

export interface XmlElement {
  name: string;
  attributes?: Readonly<Record<string, string>>;
  /** Text, or child elements; null children are optional elements left out. */
  content: string | readonly (XmlElement | null)[];
}

/** One element; an array content holds children, a string is the element's text. */
export function element(name: string, content: XmlElement["content"], attributes?: XmlElement["attributes"]): XmlElement {
  return attributes === undefined ? { name, content } : { name, content, attributes };
}

/** A whole ISO 20022 Document with its namespace, indented, every text and attribute escaped. */
export function renderDocument(namespace: string, body: XmlElement): string {
  const lines = ['<?xml version="1.0" encoding="UTF-8"?>'];
  writeElement(element("Document", [body], { xmlns: namespace }), 0, lines);
  return lines.join("\n") + "\n";
}

function writeElement(node: XmlElement, depth: number, lines: string[]): void {
  const indent = "  ".repeat(depth);
  const attributes = Object.entries(node.attributes ?? {})
    .map(([name, value]) => ` ${name}="${escapeXml(value, `${node.name}/@${name}`)}"`)
    .join("");
  if (typeof node.content === "string") {
    lines.push(`${indent}<${node.name}${attributes}>${escapeXml(node.content, node.name)}</${node.name}>`);
    return;
  }
  lines.push(`${indent}<${node.name}${attributes}>`);
  for (const childNode of node.content) if (childNode !== null) writeElement(childNode, depth + 1, lines);
  lines.push(`${indent}</${node.name}>`);
}
