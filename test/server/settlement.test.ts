import { expect } from "chai";
import fc from "fast-check";
import { concat, getAddress, hexlify, id, keccak256 } from "ethers";
import { buildMerkleTree, hashPair, verifyMerkleProof } from "../../server/settlement/merkle";
import { computeNetPositions, type Obligation } from "../../server/settlement/net-positions";
import type { NetPosition } from "../../server/chain/typed-data";

// ---------------------------------------------------------------------------------------------
// Reference Merkle tree, written independently of merkle.ts: pairing each level left to right and
// promoting an odd last node is the same tree as splitting off the largest power of two below n.
// ---------------------------------------------------------------------------------------------

function sortedHash(a: string, b: string): string {
  return BigInt(a) <= BigInt(b) ? keccak256(concat([a, b])) : keccak256(concat([b, a]));
}

function largestPowerOfTwoBelow(n: number): number {
  let split = 1;
  while (split * 2 < n) split *= 2;
  return split;
}

function referenceRoot(leaves: readonly string[]): string {
  if (leaves.length === 1) return leaves[0];
  const split = largestPowerOfTwoBelow(leaves.length);
  return sortedHash(referenceRoot(leaves.slice(0, split)), referenceRoot(leaves.slice(split)));
}

function referenceProof(leaves: readonly string[], index: number): string[] {
  if (leaves.length === 1) return [];
  const split = largestPowerOfTwoBelow(leaves.length);
  const left = leaves.slice(0, split);
  const right = leaves.slice(split);
  return index < split
    ? [...referenceProof(left, index), referenceRoot(right)]
    : [...referenceProof(right, index - split), referenceRoot(left)];
}

function makeLeaves(count: number, salt = "leaf"): string[] {
  return Array.from({ length: count }, (_, i) => id(`${salt} ${i}`));
}

/** Flips the lowest bit of a 32-byte hex value. */
function flipBit(hash: string): string {
  return "0x" + (BigInt(hash) ^ 1n).toString(16).padStart(64, "0");
}

const bytes32Arbitrary = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((bytes) => hexlify(bytes));

describe("server/settlement/merkle", () => {
  describe("hashPair", () => {
    it("hashes the numerically smaller value first, whatever the argument order", () => {
      const [small, large] = [id("a"), id("b")].sort((x, y) => (BigInt(x) < BigInt(y) ? -1 : 1));
      const expected = keccak256(concat([small, large]));
      expect(hashPair(small, large)).to.equal(expected);
      expect(hashPair(large, small)).to.equal(expected);
    });

    it("orders by value, not by hex spelling", () => {
      const lower = "0x" + "0a".repeat(32);
      const upper = "0x" + "0B".repeat(32);
      expect(hashPair(upper, lower)).to.equal(keccak256(concat([lower, upper])));
    });
  });

  describe("buildMerkleTree", () => {
    for (const count of [1, 2, 3, 5, 8, 33]) {
      describe(`with ${count} leaves`, () => {
        const leaves = makeLeaves(count);
        const tree = buildMerkleTree(leaves);

        it("has the reference root", () => {
          expect(tree.root).to.equal(referenceRoot(leaves));
        });

        it("gives the reference proof of every leaf, and every proof verifies", () => {
          leaves.forEach((leaf, i) => {
            const proof = tree.proof(i);
            expect(proof, `proof of leaf ${i}`).to.deep.equal(referenceProof(leaves, i));
            expect(verifyMerkleProof(leaf, proof, tree.root), `leaf ${i}`).to.equal(true);
          });
        });

        it("rejects another leaf against every proof", () => {
          const stranger = id("not in the tree");
          leaves.forEach((_, i) => expect(verifyMerkleProof(stranger, tree.proof(i), tree.root)).to.equal(false));
        });

        it("rejects a proof with any sibling tampered", () => {
          leaves.forEach((leaf, i) => {
            const proof = tree.proof(i);
            proof.forEach((_, j) => {
              const tampered = proof.map((sibling, k) => (k === j ? flipBit(sibling) : sibling));
              expect(verifyMerkleProof(leaf, tampered, tree.root), `leaf ${i}, sibling ${j}`).to.equal(false);
            });
          });
        });
      });
    }

    it("uses the leaf itself as the root of a one-leaf tree, with an empty proof", () => {
      const [leaf] = makeLeaves(1);
      const tree = buildMerkleTree([leaf]);
      expect(tree.root).to.equal(leaf);
      expect(tree.proof(0)).to.deep.equal([]);
    });

    it("hashes two leaves as one sorted pair", () => {
      const [a, b] = makeLeaves(2);
      const tree = buildMerkleTree([a, b]);
      expect(tree.root).to.equal(sortedHash(a, b));
      expect(tree.proof(0)).to.deep.equal([b]);
      expect(tree.proof(1)).to.deep.equal([a]);
    });

    it("promotes an odd last leaf unchanged, so its proof holds only existing siblings (3 leaves)", () => {
      const [a, b, c] = makeLeaves(3);
      const tree = buildMerkleTree([a, b, c]);
      expect(tree.root).to.equal(sortedHash(sortedHash(a, b), c));
      expect(tree.proof(2)).to.deep.equal([sortedHash(a, b)]);
      expect(tree.proof(0)).to.deep.equal([b, c]);
    });

    it("gives the 33rd leaf of 33 a one-sibling proof and every other leaf six siblings", () => {
      const tree = buildMerkleTree(makeLeaves(33));
      expect(tree.proof(32)).to.have.length(1);
      for (let i = 0; i < 32; i++) expect(tree.proof(i), `leaf ${i}`).to.have.length(6);
    });

    it("gives every leaf of a full tree of 8 a three-sibling proof", () => {
      const tree = buildMerkleTree(makeLeaves(8));
      for (let i = 0; i < 8; i++) expect(tree.proof(i)).to.have.length(3);
    });

    it("depends on the leaf order", () => {
      const leaves = makeLeaves(5);
      const swapped = [leaves[0], leaves[1], leaves[4], leaves[3], leaves[2]];
      expect(buildMerkleTree(swapped).root).to.not.equal(buildMerkleTree(leaves).root);
    });

    it("throws on an empty list of leaves", () => {
      expect(() => buildMerkleTree([])).to.throw(Error, "a Merkle tree needs at least one leaf");
    });

    it("keeps its leaves when the caller later changes the array", () => {
      const leaves = makeLeaves(3);
      const tree = buildMerkleTree(leaves);
      const root = tree.root;
      const proofs = leaves.map((_, i) => tree.proof(i));
      leaves[0] = id("replaced");
      leaves.push(id("appended"));
      expect(tree.root).to.equal(root);
      expect([0, 1, 2].map((i) => tree.proof(i))).to.deep.equal(proofs);
      expect(() => tree.proof(3)).to.throw(RangeError, "no leaf at index 3");
    });
  });

  describe("MerkleTree.proof", () => {
    const tree = buildMerkleTree(makeLeaves(5));

    for (const index of [-1, 5, 6, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      it(`throws a RangeError for index ${index}`, () => {
        expect(() => tree.proof(index)).to.throw(RangeError, `no leaf at index ${index}`);
      });
    }

    it("accepts the first and the last index", () => {
      expect(() => tree.proof(0)).to.not.throw();
      expect(() => tree.proof(4)).to.not.throw();
    });
  });

  describe("verifyMerkleProof", () => {
    const leaves = makeLeaves(8);
    const tree = buildMerkleTree(leaves);
    const proof = tree.proof(3);

    it("accepts a valid proof", () => {
      expect(verifyMerkleProof(leaves[3], proof, tree.root)).to.equal(true);
    });

    it("compares the root regardless of hex case", () => {
      expect(verifyMerkleProof(leaves[3], proof, "0x" + tree.root.slice(2).toUpperCase())).to.equal(true);
    });

    it("rejects a proof with a sibling missing", () => {
      expect(verifyMerkleProof(leaves[3], proof.slice(0, -1), tree.root)).to.equal(false);
    });

    it("rejects a proof with an extra sibling", () => {
      expect(verifyMerkleProof(leaves[3], [...proof, leaves[0]], tree.root)).to.equal(false);
    });

    it("rejects a proof with its siblings reordered", () => {
      expect(verifyMerkleProof(leaves[3], [...proof].reverse(), tree.root)).to.equal(false);
    });

    it("rejects another root", () => {
      expect(verifyMerkleProof(leaves[3], proof, buildMerkleTree(makeLeaves(8, "other")).root)).to.equal(false);
    });

    it("rejects the proof of another leaf", () => {
      expect(verifyMerkleProof(leaves[3], tree.proof(4), tree.root)).to.equal(false);
    });
  });

  describe("properties", () => {
    it("every leaf of a random tree has a proof that verifies and matches the reference", () => {
      fc.assert(
        fc.property(fc.array(bytes32Arbitrary, { minLength: 1, maxLength: 80 }), (leaves) => {
          const tree = buildMerkleTree(leaves);
          expect(tree.root).to.equal(referenceRoot(leaves));
          leaves.forEach((leaf, i) => {
            const proof = tree.proof(i);
            expect(proof.length).to.be.at.most(Math.ceil(Math.log2(leaves.length)));
            expect(verifyMerkleProof(leaf, proof, tree.root)).to.equal(true);
          });
        }),
        { numRuns: 200 },
      );
    });

    it("a leaf not in a random tree verifies against no proof of it", () => {
      fc.assert(
        fc.property(fc.uniqueArray(bytes32Arbitrary, { minLength: 2, maxLength: 40 }), (all) => {
          const [outsider, ...leaves] = all;
          const tree = buildMerkleTree(leaves);
          leaves.forEach((_, i) => expect(verifyMerkleProof(outsider, tree.proof(i), tree.root)).to.equal(false));
        }),
        { numRuns: 100 },
      );
    });
  });
});

// ---------------------------------------------------------------------------------------------
// Net positions
// ---------------------------------------------------------------------------------------------

/** Addresses whose hex spelling order differs from their numeric order once checksummed. */
const BANKS = [
  "0xc000000000000000000000000000000000000004",
  "0xa000000000000000000000000000000000000002",
  "0x00000000000000000000000000000000000000ab",
  "0xd000000000000000000000000000000000000005",
  "0x1000000000000000000000000000000000000001",
].map(getAddress);
const TOKENS = [
  "0xB000000000000000000000000000000000000000",
  "0x0C00000000000000000000000000000000000000",
  "0xa000000000000000000000000000000000000000",
].map(getAddress);

function owe(debtor: string, creditor: string, token: string, amount: bigint): Obligation {
  return { debtor, creditor, token, amount };
}

function compareAddresses(a: string, b: string): number {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

function sumsByToken(positions: readonly NetPosition[]): Map<string, bigint> {
  const sums = new Map<string, bigint>();
  for (const { token, amount } of positions) {
    const key = token.toLowerCase();
    sums.set(key, (sums.get(key) ?? 0n) + amount);
  }
  return sums;
}

/** Credits minus debits of every bank and token, keyed `token/bank` in lower case, zeros included. */
function expectedNets(obligations: readonly Obligation[]): Map<string, bigint> {
  const nets = new Map<string, bigint>();
  const add = (bank: string, token: string, amount: bigint) => {
    const key = `${token.toLowerCase()}/${bank.toLowerCase()}`;
    nets.set(key, (nets.get(key) ?? 0n) + amount);
  };
  for (const o of obligations) {
    add(o.creditor, o.token, o.amount);
    add(o.debtor, o.token, -o.amount);
  }
  return nets;
}

function expectStrictlySorted(positions: readonly NetPosition[]): void {
  for (let i = 1; i < positions.length; i++) {
    const order =
      compareAddresses(positions[i - 1].token, positions[i].token) ||
      compareAddresses(positions[i - 1].bank, positions[i].bank);
    expect(order, `positions ${i - 1} and ${i}`).to.equal(-1);
  }
}

const addressSpelling = (addresses: readonly string[]) =>
  fc.tuple(fc.constantFrom(...addresses), fc.boolean()).map(([address, lower]) => (lower ? address.toLowerCase() : address));

const obligationArbitrary: fc.Arbitrary<Obligation> = fc.record({
  debtor: addressSpelling(BANKS),
  creditor: addressSpelling(BANKS),
  token: addressSpelling(TOKENS),
  amount: fc.bigInt({ min: 1n, max: 2n ** 200n }),
});

describe("server/settlement/net-positions", () => {
  describe("computeNetPositions", () => {
    const [a, b, c] = BANKS;
    const [t, u] = TOKENS;

    it("turns one obligation into a debit of the debtor and a credit of the creditor", () => {
      const positions = computeNetPositions([owe(a, b, t, 100n)]);
      expect(positions).to.have.deep.members([
        { bank: a, token: t, amount: -100n },
        { bank: b, token: t, amount: 100n },
      ]);
      expect(positions).to.have.length(2);
    });

    it("nets several obligations per bank and token, each token summing to zero", () => {
      const positions = computeNetPositions([
        owe(a, b, t, 100n),
        owe(b, c, t, 30n),
        owe(c, a, t, 50n),
        owe(a, c, u, 7n),
        owe(b, c, u, 3n),
      ]);
      expect(positions).to.have.deep.members([
        { bank: a, token: t, amount: -50n },
        { bank: b, token: t, amount: 70n },
        { bank: c, token: t, amount: -20n },
        { bank: a, token: u, amount: -7n },
        { bank: b, token: u, amount: -3n },
        { bank: c, token: u, amount: 10n },
      ]);
      for (const [token, sum] of sumsByToken(positions)) expect(sum, token).to.equal(0n);
    });

    it("sorts by token, then bank, by numeric address value rather than by spelling", () => {
      const obligations = TOKENS.flatMap((token) =>
        BANKS.map((bank, i) => owe(bank, BANKS[(i + 1) % BANKS.length], token, BigInt(i + 1))),
      );
      const positions = computeNetPositions(obligations);
      expect(positions).to.have.length(TOKENS.length * BANKS.length);
      expectStrictlySorted(positions);
      const numericBanks = [...BANKS].sort(compareAddresses);
      const numericTokens = [...TOKENS].sort(compareAddresses);
      // Checksummed spellings ("0xC…" before "0xa…") sort differently as text: the test data must show it.
      expect([...BANKS].sort()).to.not.deep.equal(numericBanks);
      expect([...TOKENS].sort()).to.not.deep.equal(numericTokens);
      expect(positions.map((p) => p.token)).to.deep.equal(numericTokens.flatMap((token) => BANKS.map(() => token)));
      expect(positions.map((p) => p.bank)).to.deep.equal(TOKENS.flatMap(() => numericBanks));
    });

    it("treats differently cased spellings of an address as one bank and one token", () => {
      const positions = computeNetPositions([owe(a, b, t, 10n), owe(a.toLowerCase(), b, t.toLowerCase(), 5n)]);
      expect(positions).to.have.length(2);
      expect(positions.map((p) => p.amount)).to.have.members([-15n, 15n]);
    });

    it("omits banks whose net position is zero", () => {
      const positions = computeNetPositions([owe(a, b, t, 50n), owe(b, c, t, 50n)]);
      expect(positions.map((p) => p.bank)).to.have.members([a, c]);
      expect(positions.some((p) => p.amount === 0n)).to.equal(false);
    });

    it("returns no positions for obligations that cancel out, and for none", () => {
      expect(computeNetPositions([owe(a, b, t, 42n), owe(b, a, t, 42n)])).to.deep.equal([]);
      expect(computeNetPositions([])).to.deep.equal([]);
    });

    for (const amount of [0n, -1n, -(2n ** 255n)]) {
      it(`rejects an obligation of ${amount}`, () => {
        expect(() => computeNetPositions([owe(a, b, t, 1n), owe(a, b, t, amount)])).to.throw(
          RangeError,
          `obligation amount must be positive, got ${amount}`,
        );
      });
    }

    it("accepts any iterable, such as a generator", () => {
      function* obligations(): Generator<Obligation> {
        yield owe(a, b, t, 1n);
        yield owe(a, b, t, 2n);
      }
      expect(computeNetPositions(obligations()).map((p) => p.amount)).to.have.members([-3n, 3n]);
    });

    it("is exact far beyond 2^53", () => {
      const big = 2n ** 200n + 1n;
      const positions = computeNetPositions([owe(a, b, t, big), owe(a, b, t, big), owe(b, a, t, 1n)]);
      expect(positions.map((p) => p.amount)).to.have.members([-(2n * big - 1n), 2n * big - 1n]);
    });

    it("does not modify the obligations", () => {
      const obligations = [owe(a, b, t, 10n), owe(a, b, t, 5n)];
      const copy = obligations.map((o) => ({ ...o }));
      computeNetPositions(obligations);
      expect(obligations).to.deep.equal(copy);
    });
  });

  describe("properties", () => {
    const obligationsArbitrary = fc.array(obligationArbitrary, { maxLength: 60 });

    it("each token's positions sum to zero", () => {
      fc.assert(
        fc.property(obligationsArbitrary, (obligations) => {
          for (const [token, sum] of sumsByToken(computeNetPositions(obligations))) expect(sum, token).to.equal(0n);
        }),
        { numRuns: 300 },
      );
    });

    it("each bank's position equals its credits minus its debits, zeros omitted", () => {
      fc.assert(
        fc.property(obligationsArbitrary, (obligations) => {
          const positions = computeNetPositions(obligations);
          const expected = [...expectedNets(obligations)].filter(([, amount]) => amount !== 0n);
          const actual = positions.map((p) => [`${p.token.toLowerCase()}/${p.bank.toLowerCase()}`, p.amount]);
          expect(actual).to.have.deep.members(expected);
          expect(actual).to.have.length(expected.length);
        }),
        { numRuns: 300 },
      );
    });

    it("positions are strictly sorted by token then bank and never zero", () => {
      fc.assert(
        fc.property(obligationsArbitrary, (obligations) => {
          const positions = computeNetPositions(obligations);
          expectStrictlySorted(positions);
          expect(positions.every((p) => p.amount !== 0n)).to.equal(true);
        }),
        { numRuns: 300 },
      );
    });
  });
});
