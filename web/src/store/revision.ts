/**
 * Following one object of the live state for what is read beside it (its history, its
 * details): a callback once per burst of changes of the object's `rev` (or its removal),
 * `debounceMs` after the last change and at most `maxWaitMs` after the first. Nothing else
 * calls it: no timer polls.
 */
import type { Listener } from "./createStore";
import type { LiveState } from "./live";
import type { ObjectKind } from "./types";
import { MAP_OF_KIND } from "./types";

/** The object's rev in the live state; null when it is not there (removed, or not yet seen). */
export function revOf(state: LiveState, kind: ObjectKind, id: string): number | null {
  const objects = state.data?.[MAP_OF_KIND[kind]] as Record<string, { rev: number }> | undefined;
  return objects?.[id]?.rev ?? null;
}

export interface LiveSource {
  getState(): LiveState;
  subscribe(listener: Listener): () => void;
}

export class RevisionFollower {
  private unfollow: (() => void) | null = null;
  private rev: number | null = null;
  private timer: ReturnType<typeof setTimeout> | null = null;
  private firstChangeAt: number | null = null;

  constructor(
    private readonly live: LiveSource,
    private readonly kind: ObjectKind,
    private readonly id: string,
    private readonly onChange: () => void,
    private readonly timing: { debounceMs: number; maxWaitMs: number },
  ) {}

  /** Follow from the rev the object has now. */
  start(): void {
    if (this.unfollow) return;
    this.rev = revOf(this.live.getState(), this.kind, this.id);
    this.unfollow = this.live.subscribe(this.onLiveChange);
  }

  stop(): void {
    this.unfollow?.();
    this.unfollow = null;
    this.cancel();
  }

  /** Forget the callback due (the caller reads afresh now). */
  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.firstChangeAt = null;
  }

  private onLiveChange = (): void => {
    const rev = revOf(this.live.getState(), this.kind, this.id);
    if (rev === this.rev) return;
    this.rev = rev;
    const now = Date.now();
    this.firstChangeAt ??= now;
    if (this.timer) clearTimeout(this.timer);
    const { debounceMs, maxWaitMs } = this.timing;
    const wait = Math.max(0, Math.min(debounceMs, this.firstChangeAt + maxWaitMs - now));
    this.timer = setTimeout(() => {
      this.timer = null;
      this.firstChangeAt = null;
      this.onChange();
    }, wait);
  };
}
