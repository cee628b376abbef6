#!/usr/bin/env -S node --max-old-space-size=192
// The heap limit bounds the relay's memory (V8 otherwise lets the old generation grow with the
// load long before it collects it); its live data is a few tens of MB.
// The relay's command line (`npx corridor --help`). It runs the JavaScript that `npm run build`
// writes to dist/ when that is newer than every source it was built from (a production relay
// then carries no TypeScript compiler: about half the memory), and the TypeScript sources
// through ts-node otherwise, so an edit is never run stale.
const fs = require("node:fs");
const path = require("node:path");

const root = path.join(__dirname, "..");
const built = path.join(root, "dist", "server", "cli.js");

function newestSource(dir) {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const file = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(file));
    else if (entry.name.endsWith(".ts")) newest = Math.max(newest, fs.statSync(file).mtimeMs);
  }
  return newest;
}

function builtIsFresh() {
  if (!fs.existsSync(built)) return false;
  const sources = ["server", "typechain-types", path.join("scripts", "lib")].map((dir) => path.join(root, dir)).filter((dir) => fs.existsSync(dir));
  return fs.statSync(built).mtimeMs >= Math.max(...sources.map(newestSource));
}

let cli;
if (builtIsFresh()) {
  cli = require(built);
} else {
  require("ts-node").register({ transpileOnly: true, project: path.join(root, "tsconfig.json") });
  cli = require("../server/cli");
}
cli.main(process.argv).catch((error) => {
  const code = error && typeof error.code === "string" ? `${error.code}: ` : "";
  console.error(error instanceof Error ? code + error.message : error);
  process.exitCode = 1;
});
