import { readFileSync } from "node:fs";
import path from "node:path";

// solc-js ships without types.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const solc = require("solc") as { compile(input: string): string };

/** Compiles one self-contained Solidity file with the pinned solc-js and returns a contract's ABI and bytecode. */
export function compileStandalone(file: string, contractName: string): { abi: unknown[]; bytecode: string } {
  const sourceName = path.basename(file);
  const input = {
    language: "Solidity",
    sources: { [sourceName]: { content: readFileSync(file, "utf8") } },
    settings: {
      optimizer: { enabled: true, runs: 10_000 },
      evmVersion: "cancun",
      outputSelection: { "*": { "*": ["abi", "evm.bytecode.object"] } },
    },
  };
  const output = JSON.parse(solc.compile(JSON.stringify(input))) as {
    errors?: { severity: string; formattedMessage: string }[];
    contracts: Record<string, Record<string, { abi: unknown[]; evm: { bytecode: { object: string } } }>>;
  };
  const errors = (output.errors ?? []).filter((e) => e.severity === "error");
  if (errors.length > 0) throw new Error(errors.map((e) => e.formattedMessage).join("\n"));
  const compiled = output.contracts[sourceName][contractName];
  return { abi: compiled.abi, bytecode: "0x" + compiled.evm.bytecode.object };
}
