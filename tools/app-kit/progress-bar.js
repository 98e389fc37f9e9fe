/**
 * A progress bar on stderr: `label [#####-----] done/total`, redrawn in place on a terminal; on
 * anything else (a CI log) one line when a task starts and one when it completes.
 *
 * Node only (it writes to `process.stderr`).
 * @module
 */

const WIDTH = 30;

/** Shows the progress of one task after another. */
export class ProgressBar {
  #interactive = Boolean(process.stderr.isTTY);
  #label = '';
  #completed = false;

  /**
   * Shows `done` of `total` steps of the task `label`.
   * @param {string} label
   * @param {number} done
   * @param {number} total
   */
  update(label, done, total) {
    const filled = total > 0 ? Math.min(WIDTH, Math.round((done / total) * WIDTH)) : WIDTH;
    const line = `${label} [${'#'.repeat(filled)}${'-'.repeat(WIDTH - filled)}] ${done}/${total}`;
    if (this.#interactive) {
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
      return;
    }
    const starts = label !== this.#label;
    const completes = done >= total && (starts || !this.#completed);
    if (starts) this.#label = label;
    this.#completed = done >= total;
    if (starts || completes) process.stderr.write(`${line}\n`);
  }

  /** Clears the bar (on a terminal); the next update starts a new task. */
  done() {
    if (this.#interactive) process.stderr.write('\r\x1b[2K');
    this.#label = '';
    this.#completed = false;
  }
}
