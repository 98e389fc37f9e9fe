/** A progress bar on stderr: redrawn in place on a terminal, one line per case otherwise. */
export class Progress {
  readonly #interactive = Boolean(process.stderr.isTTY);
  #lastLine = '';

  /** Shows `label` with `done` of `total` steps done. */
  update(label: string, done: number, total: number): void {
    const width = 24;
    const filled = total > 0 ? Math.round((done / total) * width) : width;
    const line = `[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${label}`;
    if (this.#interactive) {
      process.stderr.write(`\r\x1b[2K${line.slice(0, (process.stderr.columns ?? 100) - 1)}`);
    } else if (done === 0 && line !== this.#lastLine) {
      process.stderr.write(`${line}\n`);
    }
    this.#lastLine = line;
  }

  /** Clears the bar. */
  done(): void {
    if (this.#interactive) process.stderr.write('\r\x1b[2K');
  }
}
