import { TimelineLoader, type TimelineKind, type TimelineState } from "../store/history";
import { useLoader } from "./useLoader";

/**
 * The durable history of one object, newest first, kept current by the live store: it asks
 * the server again when the object changes (or goes away), never on a timer. The loader runs
 * while the component is mounted.
 */
export function useTimeline(kind: TimelineKind, id: string): { state: TimelineState; loader: TimelineLoader } {
  return useLoader<TimelineState, TimelineLoader>(
    (store) => new TimelineLoader({ kind, id, request: store.request, live: store }),
    [kind, id],
  );
}
