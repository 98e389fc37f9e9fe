/**
 * Keeps benchmark results alive so the JIT cannot remove the work that made them: an allocation
 * whose result is stored into a ring that escapes to module scope cannot be optimised away.
 */
const ring: unknown[] = new Array(64).fill(undefined);
let cursor = 0;
let checksum = 0;

/** Stores `value` where the optimiser cannot prove it unused. Cost: one array store. */
export function consume(value: unknown): void {
  ring[cursor] = value;
  cursor = (cursor + 1) & 63;
}

/** Folds a number into a checksum that is printed at the end of a run. */
export function consumeNumber(value: number): void {
  checksum = (checksum + value) | 0;
}

/** The checksum of everything consumed; printed so that it is observable. */
export function blackholeChecksum(): number {
  for (const value of ring) checksum = (checksum + (value === undefined ? 0 : 1)) | 0;
  return checksum;
}

/** Drops every kept value (between cases, so that one case's garbage does not weigh on the next). */
export function clearBlackhole(): void {
  ring.fill(undefined);
}
