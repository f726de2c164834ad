/** A container's actions, as its row and its page offer them: the verbs its state allows, and Remove. */
import { type FormEvent, useState } from "react";
import { logsHref } from "../pages/Logs";
import { useRouteBase } from "../route";
import type { ContainerVerb } from "../store/actions";
import type { Container, ContainerState } from "../store/types";
import { HistoryButton, StatsButton } from "./History";
import { useAct } from "./useAct";

const VERBS: Record<ContainerState, ContainerVerb[]> = {
  running: ["stop", "restart", "pause", "kill"],
  paused: ["unpause", "stop", "kill"],
  restarting: ["stop", "kill"],
  created: ["start"],
  exited: ["start"],
  dead: [],
  removing: [],
};

/**
 * ``panels``: also what a table row links to or opens: the Logs page, and the Stats and History
 * side panels (the container's page shows those itself).
 */
export function ContainerActions({ c, busy, panels = false }: { c: Container; busy: boolean; panels?: boolean }) {
  const base = useRouteBase();
  const act = useAct();
  return (
    <>
      {VERBS[c.state].map((verb) => (
        <button
          key={verb}
          type="button"
          className={`small${verb === "kill" ? " danger-text" : ""}`}
          disabled={busy}
          onClick={() => void act({ kind: "container", action: verb, id: c.id, name: c.name })}
        >
          {verb.charAt(0).toUpperCase() + verb.slice(1)}
        </button>
      ))}
      {panels && (
        <a className="button small" href={logsHref({ container: c.id }, base)} aria-label={`Logs of ${c.name}`}>
          Logs
        </a>
      )}
      {panels && <StatsButton id={c.id} name={c.name} />}
      {panels && <HistoryButton kind="container" id={c.id} name={c.name} />}
      <button
        type="button"
        className="small danger-text"
        disabled={busy || c.state === "removing"}
        onClick={() =>
          void act(
            { kind: "container", action: "remove", id: c.id, name: c.name },
            { running: c.state === "running" || c.state === "paused" || c.state === "restarting" },
          )
        }
      >
        Remove
      </button>
    </>
  );
}

/** Rename a container: a button that becomes a name field; Docker's refusal shows beside it. */
export function RenameForm({ c, busy }: { c: Container; busy: boolean }) {
  const act = useAct();
  const [name, setName] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  if (name === null) {
    return (
      <button type="button" className="small" disabled={busy} onClick={() => (setName(c.name), setError(null))}>
        Rename
      </button>
    );
  }
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    const to = name.trim();
    if (!to || to === c.name) {
      setName(null);
      return;
    }
    const result = await act({ kind: "container", action: "rename", id: c.id, name: c.name, to }, { quiet: true });
    if (result.ok) setName(null);
    else setError(result.detail);
  };
  return (
    <form className="rename-form" onSubmit={(e) => void submit(e)}>
      <input
        aria-label="New name"
        value={name}
        autoFocus
        spellCheck={false}
        onChange={(e) => setName(e.target.value)}
        onKeyDown={(e) => {
          if (e.key === "Escape") {
            e.preventDefault();
            setName(null);
          }
        }}
        aria-invalid={error !== null}
        aria-describedby={error ? "rename-error" : undefined}
      />
      <button type="submit" className="small" disabled={busy}>
        Save
      </button>
      <button type="button" className="small" onClick={() => setName(null)}>
        Cancel
      </button>
      {error && (
        <span id="rename-error" className="form-error" role="alert">
          {error}
        </span>
      )}
    </form>
  );
}
