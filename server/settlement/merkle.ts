import { keccak256 } from "ethers";

/**
 * A binary Merkle tree with sorted-pair keccak256 hashing, as OpenZeppelin's MerkleProof verifies.
 * A node without a sibling moves up a level unchanged, so any number of leaves works and a proof
 * holds only the siblings that exist.
 */
export interface MerkleTree {
  readonly root: string;
  proof(leafIndex: number): string[];
}

/** Hashes are compared as lower-case hex of one length, which orders them as numbers. */
export function hashPair(a: string, b: string): string {
  const [x, y] = [a.toLowerCase(), b.toLowerCase()];
  return x < y ? keccak256(`${x}${y.slice(2)}`) : keccak256(`${y}${x.slice(2)}`);
}

export function buildMerkleTree(leaves: readonly string[]): MerkleTree {
  if (leaves.length === 0) throw new Error("a Merkle tree needs at least one leaf");
  const levels: string[][] = [leaves.slice()];
  while (levels[levels.length - 1].length > 1) {
    const below = levels[levels.length - 1];
    const above: string[] = [];
    for (let i = 0; i < below.length; i += 2) {
      above.push(i + 1 < below.length ? hashPair(below[i], below[i + 1]) : below[i]);
    }
    levels.push(above);
  }
  return {
    root: levels[levels.length - 1][0],
    proof(leafIndex: number): string[] {
      if (!Number.isInteger(leafIndex) || leafIndex < 0 || leafIndex >= levels[0].length) {
        throw new RangeError(`no leaf at index ${leafIndex}`);
      }
      const siblings: string[] = [];
      let index = leafIndex;
      for (const level of levels.slice(0, -1)) {
        const sibling = index ^ 1;
        if (sibling < level.length) siblings.push(level[sibling]);
        index >>= 1;
      }
      return siblings;
    },
  };
}

export function verifyMerkleProof(leaf: string, proof: readonly string[], root: string): boolean {
  return proof.reduce(hashPair, leaf).toLowerCase() === root.toLowerCase();
}
