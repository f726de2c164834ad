/**
 * One row of an object table (Images, Volumes, Networks): the object, the action running on
 * it, its flash key, the names of the containers it lists, whether its History is open. Each
 * piece is its own selection, so the row re-renders when its object, its action or those
 * names change, and not on every change of the state.
 */
import { useCallback, useMemo } from "react";
import { useHistoryOpen } from "../components/History";
import { useAct } from "../components/useAct";
import { containerNames } from "../format";
import { type PendingAction, pendingFor } from "../store/actions";
import type { LiveState } from "../store/live";
import { type EntityOf, MAP_OF_KIND, type ObjectKind } from "../store/types";
import { useFlashKey } from "./flash";
import { useEngineState } from "./hooks";

export interface ObjectRow<K extends ObjectKind> {
  kind: K;
  id: string;
  /** Undefined once the object left the state (the row renders nothing then). */
  obj: EntityOf<K> | undefined;
  pending: PendingAction | undefined;
  flashKey: number;
  /** The names of the containers ``usersOf`` lists, sorted, joined with ", ". */
  users: string;
  /** Its History panel is open. */
  selected: boolean;
  act: ReturnType<typeof useAct>;
}

/** ``usersOf`` must be stable (a module-level function): it is part of a selector. */
export function useObjectRow<K extends ObjectKind>(
  kind: K,
  id: string,
  usersOf?: (obj: EntityOf<K>) => readonly string[],
): ObjectRow<K> {
  const map = MAP_OF_KIND[kind];
  const obj = useEngineState(
    useCallback((s: LiveState) => s.data?.[map][id] as EntityOf<K> | undefined, [map, id]),
  );
  const pending = useEngineState(useMemo(() => pendingFor(kind, id), [kind, id]));
  const flashKey = useFlashKey(obj?.rev);
  // A string: the row re-renders when the names change, not on every container change.
  const users = useEngineState(
    useCallback(
      (s: LiveState) => {
        const o = s.data?.[map][id] as EntityOf<K> | undefined;
        return o && usersOf ? containerNames(usersOf(o), s.data?.containers).join(", ") : "";
      },
      [map, id, usersOf],
    ),
  );
  const act = useAct();
  const selected = useHistoryOpen(kind, id);
  return { kind, id, obj, pending, flashKey, users, selected, act };
}
