/** A progress bar on stderr: redrawn in place on a terminal, a line per task start and end otherwise. */
export declare class ProgressBar {
  /** Shows `done` of `total` steps of the task `label`. */
  update(label: string, done: number, total: number): void;
  /** Clears the bar (on a terminal); the next update starts a new task. */
  done(): void;
}
