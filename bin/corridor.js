#!/usr/bin/env node
// The relay's command line (`npx corridor --help`), run from the TypeScript sources.
require("ts-node").register({ transpileOnly: true, project: require("node:path").join(__dirname, "..", "tsconfig.json") });
require("../server/cli").main(process.argv).catch((error) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
