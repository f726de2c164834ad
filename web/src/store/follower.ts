/**
 * The follower: one `changes` subscription's state, kept up to date from server messages.
 * Pure (no I/O, no timers, no store): state + message -> the next state and what to answer.
 * It does the job of the Python client's `Follower` (src/dockstate/client.py), and both run
 * the same test vectors (tests/vectors/*.json).
 *
 * - `data` is the protocol EngineState; its `version` is how far the subscription has been
 *   delivered (a bookmark raises it), while `applied` is the version of the last snapshot or
 *   changes applied. `data` is never mutated: each snapshot or batch makes a new object (and
 *   new maps for the kinds it touches), the untouched objects keep their identity.
 * - A `changes` message is applied only when it chains: same epoch, and
 *   `applied <= from <= version <= to` (`from == version` unless a bookmark came in between).
 *   Otherwise, or when a change does not apply to the state held, it is a gap: the answer is
 *   `resync`, and every `changes` and `bookmark` is dropped until the next snapshot.
 * - After `resync_required` everything is dropped until the snapshot that follows it.
 * - A change that did not apply leaves a state that may be no version of the server's: it is
 *   no longer `trusted`, and the next subscription asks for a snapshot instead of resuming.
 */
import { applyChanges, ApplyError } from "./apply";
import type { EngineState, Resync, ServerMessage, Subscribe, Welcome } from "./types";

export interface Following {
  /** The subscription followed; messages of any other are ignored. */
  sub: string | null;
  /** The state as last known; null before anything arrived. */
  data: EngineState | null;
  epoch: string | null;
  /** The version of the last snapshot or changes applied (`data.version` may be past it). */
  applied: number | null;
  /** A snapshot is awaited (after a gap, a resync_required, or a resume that cannot be). */
  syncing: boolean;
  /** Whether `data` is the server's state at some version, so that a resume can start there. */
  trusted: boolean;
}

/** What the connection must do after a message (the values of the Python client's Step). */
export type Step =
  | "nothing" // the message applied no snapshot or changes (bookmark, dropped, unknown)
  | "state" // a snapshot or a batch of changes was applied: `data` is new
  | "resync"; // a gap: send `answer`; the state waits for a snapshot

export interface Outcome<F extends Following = Following> {
  /** The next state: the one given, unchanged (same object), or a new one. */
  state: F;
  step: Step;
  /** The message to send back: `resync` on a gap, else null. */
  answer: Resync | null;
  /** Why a snapshot is now awaited (a gap, or the server's resync_required), else null. */
  resync: string | null;
}

export function initialFollowing(): Following {
  return { sub: null, data: null, epoch: null, applied: null, syncing: false, trusted: false };
}

/** A state kept from before (the cache): shown, and resumed from. */
export function resumeFrom(epoch: string, data: EngineState): Pick<Following, "data" | "epoch" | "applied" | "trusted"> {
  return { data, epoch, applied: data.version, trusted: true };
}

/** Where to resume (`since`), or null to ask for a snapshot. */
export function sinceOf(f: Following): { epoch: string; version: number } | null {
  if (!f.data || !f.epoch || !f.trusted) return null;
  return { epoch: f.epoch, version: f.data.version };
}

/**
 * The `subscribe` to send for subscription `sub` on a new connection, with `since` when there
 * is a state to resume from. Given the `welcome`, it also tells whether the server can resume
 * from there: if not, the state stays stale (`syncing`) until the snapshot the server sends.
 */
export function subscribe<F extends Following>(
  f: F,
  sub: string,
  welcome?: Pick<Welcome, "epoch" | "oldest" | "version">,
): { state: F; message: Subscribe } {
  const message: Subscribe = { type: "subscribe", id: sub, mode: "changes" };
  const since = sinceOf(f);
  let syncing = true;
  if (since) {
    message.since = since;
    syncing = welcome
      ? !(since.epoch === welcome.epoch && welcome.oldest <= since.version && since.version <= welcome.version)
      : false;
  }
  return { state: { ...f, sub, syncing }, message };
}

/** Take one server message (after `welcome`); return the next state and what to do. */
export function follow<F extends Following>(f: F, message: ServerMessage): Outcome<F> {
  const nothing: Outcome<F> = { state: f, step: "nothing", answer: null, resync: null };
  if (!("sub" in message) || message.sub !== f.sub || f.sub === null) return nothing;
  switch (message.type) {
    case "snapshot":
      return {
        state: {
          ...f,
          data: { ...message.state, version: message.version },
          epoch: message.epoch,
          applied: message.version,
          syncing: false,
          trusted: true,
        },
        step: "state",
        answer: null,
        resync: null,
      };
    case "changes": {
      if (f.syncing) return nothing; // a snapshot is on its way; it covers these
      if (!f.data || f.applied === null || message.epoch !== f.epoch) {
        return gap(f, f.sub, "changes of another epoch");
      }
      const { from, to } = message;
      if (!(f.applied <= from && from <= f.data.version && f.data.version <= to)) {
        return gap(f, f.sub, `gap: holding ${f.data.version}, changes from ${from} to ${to}`);
      }
      let data: EngineState;
      try {
        data = applyChanges(f.data, message.changes, to, message.timestamp);
      } catch (err) {
        if (!(err instanceof ApplyError)) throw err;
        return gap({ ...f, trusted: false }, f.sub, err.message);
      }
      return { state: { ...f, data, applied: to }, step: "state", answer: null, resync: null };
    }
    case "bookmark": {
      if (f.syncing || !f.data) return nothing;
      if (message.epoch !== f.epoch) return gap(f, f.sub, "bookmark of another epoch");
      if (message.version <= f.data.version) return nothing;
      // Every change up to it was delivered: the next batch starts there.
      return { ...nothing, state: { ...f, data: { ...f.data, version: message.version } } };
    }
    case "resync_required":
      return { ...nothing, state: { ...f, syncing: true }, resync: `resync_required ${message.code}` };
    default:
      return nothing;
  }
}

function gap<F extends Following>(f: F, sub: string, why: string): Outcome<F> {
  return { state: { ...f, syncing: true }, step: "resync", answer: { type: "resync", id: sub }, resync: why };
}
