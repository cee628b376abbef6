import { sql, type Kysely, type Transaction } from "kysely";
import type { Database } from "./schema";

/** Runs `work` in a write transaction; resolves once that transaction has committed. */
export type Transact = <T>(work: (trx: Transaction<Database>) => Promise<T>) => Promise<T>;

interface Job {
  work: (trx: Transaction<Database>) => Promise<unknown>;
  resolve(value: unknown): void;
  reject(error: unknown): void;
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown };

/**
 * Group commit. SQLite runs one write transaction at a time, and most of a small transaction's
 * cost is its commit (appending every page it touched to the WAL). Work that arrives while a batch
 * runs waits for the next one; a batch runs each piece of work in its own savepoint, one after
 * another, and commits once. Work that throws is rolled back to its savepoint alone and its caller
 * gets the error; the others commit. Nobody hears of success before the commit, so a crash loses
 * only work that was never acknowledged. Each piece of work must use only the transaction it is
 * given (the batch holds the connection until it commits).
 */
export function createTransactionBatcher(db: Kysely<Database>, options: { maxBatch?: number } = {}): { transact: Transact } {
  const maxBatch = options.maxBatch ?? 64;
  const queue: Job[] = [];
  let running = false;

  async function runBatch(jobs: Job[]): Promise<void> {
    const outcomes: Outcome[] = [];
    try {
      await db.transaction().execute(async (trx) => {
        for (const job of jobs) {
          await sql`savepoint batched_work`.execute(trx);
          try {
            outcomes.push({ ok: true, value: await job.work(trx) });
          } catch (error) {
            outcomes.push({ ok: false, error });
            await sql`rollback to savepoint batched_work`.execute(trx);
          }
          await sql`release savepoint batched_work`.execute(trx);
        }
      });
    } catch (error) {
      for (const job of jobs) job.reject(error); // the batch rolled back: none of it was written
      return;
    }
    jobs.forEach((job, i) => {
      const outcome = outcomes[i];
      if (outcome.ok) job.resolve(outcome.value);
      else job.reject(outcome.error);
    });
  }

  async function drain(): Promise<void> {
    try {
      while (queue.length > 0) await runBatch(queue.splice(0, maxBatch));
    } finally {
      running = false;
    }
  }

  return {
    transact<T>(work: (trx: Transaction<Database>) => Promise<T>): Promise<T> {
      return new Promise<T>((resolve, reject) => {
        queue.push({ work, resolve: resolve as (value: unknown) => void, reject });
        if (running) return;
        running = true;
        // After the current I/O callbacks: requests that arrived together share the first batch.
        setImmediate(() => void drain());
      });
    },
  };
}
