import { Transaction, type Provider, type Wallet } from "ethers";
import { decodeRevert, type DecodedRevert } from "./contracts";

/**
 * Every call the submitter signs is checked first, as the signer, against the contract it targets
 * (the escrow, or a deposit token): with eth_estimateGas, or, once a call of the same function was
 * estimated, with one eth_call at the gas limit it needed (scaled to a batch's size). A revert is a
 * value the senders judge; any other failure (RPC) is thrown.
 */

/** A call ready to sign: the contract, its calldata and a gas limit with headroom. */
export interface PreparedCall {
  to: string;
  data: string;
  gasLimit: bigint;
}

export type Preflight = { ok: true; call: PreparedCall } | { ok: false; revert: DecodedRevert };

export interface CallPreflight {
  /**
   * Checks the call to `to` as the signer and sets its gas limit. `smaller`: the same function with
   * a couple of a batch's payments, whose gas is searched instead when none of the function is known.
   */
  preflight(to: string, data: string, smaller?: () => string): Promise<Preflight>;
  /** Why a mined transaction reverted, by re-running it with eth_call at its block. */
  replayRevert(tx: { raw: string }, blockNumber: number): Promise<string>;
}

/** Gas headroom over the estimate: state can change between estimate and inclusion. */
const GAS_HEADROOM_PERCENT = 20n;
/** Bounds the gas limits remembered (shapes are few: a contract's function and a calldata length). */
const MAX_GAS_SHAPES = 1_000;

/** A function of one contract: its calls differ in gas mostly by how much calldata they carry. */
function callFunction(to: string, data: string): string {
  return `${to.toLowerCase()}${data.slice(0, 10)}`;
}

/**
 * Calls of one shape (contract, function and calldata length: e.g. any release, or a lock batch of
 * n) do the same work on the same kinds of state, so they need about the same gas.
 */
function callShape(to: string, data: string): string {
  return `${callFunction(to, data)}:${data.length}`;
}

/** Creates the preflight of one signer's calls; it learns gas limits per call shape as it goes. */
export function createCallPreflight(deps: { provider: Provider; signer: Wallet }): CallPreflight {
  const { provider, signer } = deps;
  /** The gas limit per call shape: an estimate with headroom, or a guess an eth_call proved enough. */
  const gasLimits = new Map<string, bigint>();
  /** The first estimate of a shape, while it runs. */
  const estimating = new Map<string, Promise<bigint>>();

  function remember(shape: string, gasLimit: bigint): void {
    if (gasLimits.size >= MAX_GAS_SHAPES) gasLimits.clear();
    gasLimits.set(shape, gasLimit);
  }

  /**
   * A gas limit to try for a shape never seen, from the known shape of the same function nearest in
   * length, scaled by length: batches of one function differ mostly in how many payments they carry,
   * and the headroom covers their shared fixed cost. Only a guess, proven by one eth_call before it
   * is used: a batch size seen for the first time then costs no eth_estimateGas search.
   */
  function guessGasLimit(to: string, data: string): bigint | undefined {
    const fn = callFunction(to, data);
    let nearest: { length: number; gasLimit: bigint } | undefined;
    for (const [shape, gasLimit] of gasLimits) {
      const [shapeFunction, shapeLength] = shape.split(":");
      const length = Number(shapeLength);
      if (shapeFunction !== fn) continue;
      if (!nearest || Math.abs(length - data.length) < Math.abs(nearest.length - data.length)) nearest = { length, gasLimit };
    }
    if (!nearest) return undefined;
    return (nearest.gasLimit * BigInt(data.length) + BigInt(nearest.length - 1)) / BigInt(nearest.length);
  }

  /** eth_estimateGas with headroom, remembered for the call's shape; a revert is thrown. */
  async function estimate(to: string, data: string, known: bigint | undefined): Promise<bigint> {
    const shape = callShape(to, data);
    const estimated = provider.estimateGas({ from: signer.address, to, data });
    if (known === undefined && !estimating.has(shape)) {
      estimating.set(shape, estimated);
      void estimated.finally(() => estimating.delete(shape)).catch(() => undefined);
    }
    const gasLimit = ((await estimated) * (100n + GAS_HEADROOM_PERCENT)) / 100n;
    remember(shape, known !== undefined && known > gasLimit ? known : gasLimit);
    return gasLimit;
  }

  return {
    async preflight(to, data, smaller) {
      const shape = callShape(to, data);
      // Calls of a shape never seen, checked together (a batch of releases), wait for the first
      // one's estimate rather than all searching at once.
      const first = estimating.get(shape);
      if (first && !gasLimits.has(shape)) await first.catch(() => undefined);
      // The first batch of a function: searching the gas of a couple of its payments re-executes
      // far less than searching the whole batch's, and scales to it. A refusal shows below.
      if (smaller && guessGasLimit(to, data) === undefined) await estimate(to, smaller(), undefined).catch(() => undefined);
      const known = gasLimits.get(shape);
      const candidate = known ?? guessGasLimit(to, data);
      if (candidate !== undefined) {
        // A call of this shape needed at most `known` (with headroom) before: one eth_call with that
        // limit proves this one fits it too, at a fraction of eth_estimateGas's search (which
        // re-executes the call many times). Any failure is judged by estimating instead: short of
        // gas, a call can fail with a contract error too (a token transfer starved of gas).
        const fits = await provider.call({ from: signer.address, to, data, gasLimit: candidate }).then(
          () => true,
          () => false,
        );
        if (fits) {
          if (known === undefined) remember(shape, candidate);
          return { ok: true, call: { to, data, gasLimit: candidate } };
        }
      }
      try {
        return { ok: true, call: { to, data, gasLimit: await estimate(to, data, known) } };
      } catch (error) {
        const revert = decodeRevert(error);
        if (revert) return { ok: false, revert };
        throw error;
      }
    },
    async replayRevert(tx, blockNumber) {
      const parsed = Transaction.from(tx.raw);
      try {
        await provider.call({ from: parsed.from!, to: parsed.to!, data: parsed.data, blockTag: blockNumber });
        return "not reproduced by a replay (out of gas, or state changed within the block)";
      } catch (error) {
        return decodeRevert(error)?.reason ?? `unknown (replay failed: ${(error as Error).message})`;
      }
    },
  };
}
