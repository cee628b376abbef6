/**
 * The relay benchmark's ceiling: a bare express 5 app with express.json() that answers every
 * POST /v1/payments with 201 and a small JSON body, in its own process like the relay.
 * Prints `listening at <url>` once it accepts connections.
 */
import { randomUUID } from "node:crypto";
import type { AddressInfo } from "node:net";
import express from "express";

const app = express();
app.use(express.json());
app.post("/v1/payments", (_req, res) => {
  res.status(201).json({ uetr: randomUUID(), status: "RECEIVED" });
});

const server = app.listen(0, "127.0.0.1", () => {
  const { port } = server.address() as AddressInfo;
  console.log(`listening at http://127.0.0.1:${port}`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
