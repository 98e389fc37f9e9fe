/** Runs a full garbage collection (the global gc(), or one made by turning --expose-gc on). */
export declare const collectGarbage: () => void;

/**
 * Collects garbage and lets finalization tasks run until `done()` holds or the attempts run out.
 * @param options rounds (40) and the pause after each in milliseconds (2)
 */
export declare function collectUntil(
  done: () => boolean,
  options?: { readonly attempts?: number; readonly pauseMs?: number },
): Promise<void>;
