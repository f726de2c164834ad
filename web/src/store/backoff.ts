/**
 * Reconnection delays: the rule of src/dockstate/backoff.py (the watcher's and the Python
 * client's), the web UI's one implementation of it.
 *
 * "Equal jitter", capped exponential: the n-th delay since the last success (n from 0) lies in
 * [c/2, c] with c = min(maxMs, initialMs * factor ** n), so that many clients dropped together
 * do not come back together, and none waits longer than maxMs.
 */

export interface BackoffOptions {
  /** The ceiling of the first delay (ms). */
  initialMs?: number;
  /** The largest delay (ms). */
  maxMs?: number;
  /** How much the ceiling grows per attempt. */
  factor?: number;
}

export const DEFAULT_BACKOFF: Required<BackoffOptions> = { initialMs: 500, maxMs: 15_000, factor: 2 };

/** The delay (whole ms) before attempt ``n`` (0 = the first after a success); ``random`` in [0, 1). */
export function backoffDelay(
  n: number,
  options: BackoffOptions = {},
  random: () => number = Math.random,
): number {
  const { initialMs, maxMs, factor } = { ...DEFAULT_BACKOFF, ...options };
  if (!(initialMs > 0) || maxMs < initialMs || factor < 1) {
    throw new RangeError("need 0 < initialMs <= maxMs and factor >= 1");
  }
  const ceiling = Math.min(maxMs, initialMs * factor ** Math.min(Math.max(0, n), 64));
  return Math.round(ceiling * (0.5 + 0.5 * random()));
}

/** The same rule with its own count of attempts, as dockstate.backoff.Backoff. */
export class Backoff {
  attempts = 0;
  constructor(
    readonly options: BackoffOptions = {},
    private readonly random: () => number = Math.random,
  ) {
    backoffDelay(0, options, () => 0); // refuse nonsense at once
  }
  /** The next delay (ms); counts one more attempt. */
  delay(): number {
    return backoffDelay(this.attempts++, this.options, this.random);
  }
  /** Start again from the first delay (after a connection that worked). */
  reset(): void {
    this.attempts = 0;
  }
}
