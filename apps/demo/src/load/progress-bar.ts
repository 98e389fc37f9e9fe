/**
 * A progress bar on stderr: redrawn in place on a terminal, a line per quarter otherwise.
 * @module
 */

/** Draws `label [#####-----] done/total` on stderr. */
export class ProgressBar {
  readonly #interactive = Boolean(process.stderr.isTTY);
  #lastQuarter = -1;

  /** Shows `done` of `total` steps of `label`. */
  update(label: string, done: number, total: number): void {
    const width = 30;
    const filled = total > 0 ? Math.round((done / total) * width) : width;
    const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${done}/${total}`;
    if (this.#interactive) {
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
      return;
    }
    const quarter = total > 0 ? Math.floor((4 * done) / total) : 4;
    if (quarter !== this.#lastQuarter) {
      this.#lastQuarter = quarter;
      process.stderr.write(`${line}\n`);
    }
  }

  /** Clears the bar (on a terminal) and resets it for the next run. */
  done(): void {
    if (this.#interactive) process.stderr.write('\r\x1b[2K');
    this.#lastQuarter = -1;
  }
}
