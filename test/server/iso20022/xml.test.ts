import { expect } from "chai";
import { detectMessage } from "../../../server/iso20022/detect";
import { parsePacs008 } from "../../../server/iso20022/pacs008";
import { decodeXmlText, escapeXml } from "../../../server/iso20022/xml-text";
import { creditTransfer, expectIsoError, pacs008Document, readSample } from "./fixtures";

const C105 = readSample("cbpr-c105-pacs008-AtoB.xml");

function firstTransaction(xml: string) {
  const [result] = parsePacs008(xml).transactions;
  if (!result.ok) throw new Error(`rejected: ${result.reason} ${result.message}`);
  return result.transaction;
}

describe("server/iso20022 XML reading", () => {
  describe("refuses what is not one well-formed XML document (malformed_xml)", () => {
    const cases: [string, string][] = [
      ["a truncated message", C105.slice(0, C105.length / 2)],
      ["mismatched tags", pacs008Document([creditTransfer()]).replace("</GrpHdr>", "</GrpHeader>")],
      ["text after the root", `${pacs008Document([creditTransfer()])}trailing`],
      ["two root elements", `${pacs008Document([creditTransfer()])}<Document/>`.replace('<?xml version="1.0" encoding="UTF-8"?>', "")],
      ["an undefined entity", pacs008Document([creditTransfer()]).replace("S Baldrick", "S&nbsp;Baldrick")],
      ["a bare ampersand", pacs008Document([creditTransfer()]).replace("S Baldrick", "S & Baldrick")],
      ["a reference to NUL", pacs008Document([creditTransfer()]).replace("S Baldrick", "S&#0;Baldrick")],
      ["not XML at all", '{"uetr":"7a562c67-ca16-48ba-b074-65581be6f001"}'],
      ["nothing", ""],
    ];
    for (const [problem, xml] of cases) {
      it(problem, () => {
        expectIsoError(() => parsePacs008(xml), "malformed_xml");
      });
    }

    it("says where the problem is", () => {
      const error = expectIsoError(() => parsePacs008("<Document>\n<a></b>\n</Document>"), "malformed_xml");
      expect(error.details).to.include({ line: 2 });
    });
  });

  describe("refuses DOCTYPE and ENTITY declarations before parsing (doctype_forbidden)", () => {
    const billionLaughs = `<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08"><FIToFICstmrCdtTrf>&lol3;</FIToFICstmrCdtTrf></Document>`;
    const cases: [string, string, string][] = [
      ["billion laughs", billionLaughs, "DOCTYPE"],
      ["an external entity (XXE)", `<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]>${pacs008Document([creditTransfer()]).replace("S Baldrick", "&x;")}`, "DOCTYPE"],
      ["a plain DOCTYPE", `<?xml version="1.0"?><!DOCTYPE Document SYSTEM "pacs.008.dtd">${pacs008Document([creditTransfer()]).replace(/^<\?xml[^>]*>/, "")}`, "DOCTYPE"],
      ["a lower-case doctype", `<!doctype Document>${pacs008Document([creditTransfer()])}`, "DOCTYPE"],
      ["a stray ENTITY declaration", pacs008Document([creditTransfer()]).replace("<FIToFICstmrCdtTrf>", '<FIToFICstmrCdtTrf><!ENTITY x "y">'), "ENTITY"],
    ];
    for (const [problem, xml, declaration] of cases) {
      it(problem, () => {
        expect(expectIsoError(() => parsePacs008(xml), "doctype_forbidden").details).to.deep.equal({ declaration });
        expectIsoError(() => detectMessage(xml), "doctype_forbidden");
      });
    }
  });

  describe("refuses messages over the size limit (too_large)", () => {
    it("at 1 MiB by default, counting UTF-8 bytes", () => {
      const padding = `<!--${"é".repeat(600 * 1024)}-->`;
      const error = expectIsoError(() => parsePacs008(pacs008Document([creditTransfer()]).replace("<Document", `${padding}<Document`)), "too_large");
      expect(error.details.maxBytes).to.equal(1024 * 1024);
      expect(error.details.bytes).to.be.greaterThan(1200 * 1024);
    });

    it("at the caller's limit", () => {
      expectIsoError(() => parsePacs008(C105, { maxBytes: 1000 }), "too_large");
      expect(parsePacs008(C105, { maxBytes: Buffer.byteLength(C105) }).messageId).to.equal("pacs008bzmsgid-1");
    });
  });

  describe("reads what real banks send", () => {
    it("a UTF-8 BOM, CRLF line ends, comments and a prefixed Document", () => {
      const xml = `\uFEFF${C105.replace(/\n/g, "\r\n").replace("<pacs:MsgId>", "<!-- id --><pacs:MsgId>")}`;
      expect(parsePacs008(xml).messageId).to.equal("pacs008bzmsgid-1");
    });

    it("entity and character references in text and attributes, CDATA left literal", () => {
      const transfer = creditTransfer()
        .replace("S Baldrick", "S &amp; Co &lt;UK&gt; &quot;A&quot; &apos;B&apos; &#169;&#x263A;")
        .replace("A Tate", "<![CDATA[Tate & <Lyle> &amp;]]>")
        .replace('Ccy="GBP"', 'Ccy="&#x47;BP"');
      const transaction = firstTransaction(pacs008Document([transfer]));
      expect(transaction.debtor.name).to.equal("S & Co <UK> \"A\" 'B' ©☺");
      expect(transaction.creditor.name).to.equal("Tate & <Lyle> &amp;");
      expect(transaction.amount).to.deep.equal({ value: 245000n, currency: "GBP" });
    });

    it("single-quoted attributes, and a namespace declared on an envelope root without AppHdr", () => {
      const xml = `<Env xmlns:p='urn:iso:std:iso:20022:tech:xsd:pacs.008.001.09'><p:Document>${pacs008Document([creditTransfer().replace('Ccy="GBP"', "Ccy='GBP'")])
        .replace(/^[\s\S]*?<FIToFICstmrCdtTrf>/, "<p:FIToFICstmrCdtTrf>")
        .replace("</FIToFICstmrCdtTrf>\n</Document>", "</p:FIToFICstmrCdtTrf></p:Document></Env>")}`;
      expect(detectMessage(xml)).to.deep.equal({ type: "pacs.008", version: "pacs.008.001.09" });
      expect(firstTransaction(xml).amount.value).to.equal(245000n);
    });

    it("skips a Document that is only inside a comment", () => {
      const xml = C105.replace("<Envelope", '<!-- <Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"> --><Envelope');
      expect(detectMessage(xml).version).to.equal("pacs.008.001.08");
      expect(parsePacs008(xml).messageId).to.equal("pacs008bzmsgid-1");
    });
  });

  describe("checks the Document's namespace", () => {
    it("refuses a namespace that is not ISO 20022 (wrong_namespace)", () => {
      const xml = pacs008Document([creditTransfer()]).replace("urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08", "urn:example:pacs.008.001.08");
      expect(expectIsoError(() => parsePacs008(xml), "wrong_namespace").details).to.deep.equal({ namespace: "urn:example:pacs.008.001.08" });
    });

    it("refuses a Document with no namespace, or the envelope's default one", () => {
      expectIsoError(() => parsePacs008(pacs008Document([creditTransfer()]).replace(/ xmlns="[^"]*"/, "")), "wrong_namespace");
      const envelopeDefault = C105.replace('<pacs:Document xmlns:pacs="urn:iso:std:iso:20022:tech:xsd:pacs.008.001.08">', "<Document>")
        .replace("</pacs:Document>", "</Document>")
        .replace(/pacs:/g, "");
      expect(expectIsoError(() => parsePacs008(envelopeDefault), "wrong_namespace").details).to.deep.equal({ namespace: "urn:swift:xsd:envelope" });
    });

    it("refuses messages Corridor does not read, and XML with no Document (unsupported_message)", () => {
      const pain = pacs008Document([creditTransfer()]).replace("pacs.008.001.08", "pain.001.001.09");
      expect(expectIsoError(() => detectMessage(pain), "unsupported_message").details).to.deep.equal({ version: "pain.001.001.09" });
      expectIsoError(() => parsePacs008("<Envelope><AppHdr/></Envelope>"), "unsupported_message");
    });

    it("refuses a Document nested deeper than the envelope (missing_element)", () => {
      const nested = C105.replace("<pacs:Document", "<Wrapper><pacs:Document").replace("</pacs:Document>", "</pacs:Document></Wrapper>");
      expectIsoError(() => parsePacs008(nested), "missing_element");
    });
  });

  describe("text decoding and escaping", () => {
    it("decodes the predefined entities and numeric references, nothing else", () => {
      expect(decodeXmlText("a &amp;amp; b")).to.equal("a &amp; b");
      expect(decodeXmlText("&#65;&#x42;&#x1F600;")).to.equal("AB😀");
      expect(decodeXmlText("plain")).to.equal("plain");
      for (const bad of ["&copy;", "&#xD800;", "&#x110000;", "&#12345678;", "& ", "&amp"]) expectIsoError(() => decodeXmlText(bad), "malformed_xml");
    });

    it("escapes the markup characters and refuses characters XML cannot carry", () => {
      expect(escapeXml(`<&"'>`, "Nm")).to.equal("&lt;&amp;&quot;&apos;&gt;");
      expect(decodeXmlText(escapeXml(`Tate & <Lyle> "x" 'y' 😀`, "Nm"))).to.equal(`Tate & <Lyle> "x" 'y' 😀`);
      for (const bad of ["a\u0000b", "a\u0008", "\uD800", "a\uDC00b", "\uFFFE"]) {
        expect(expectIsoError(() => escapeXml(bad, "Nm"), "invalid_element").details).to.deep.equal({ element: "Nm" });
      }
    });
  });
});
