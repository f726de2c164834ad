import { memo } from "react";
import { Age, CreatingRows, Empty, Flash, Pending, rowClass, Tag } from "../components/Cells";
import { CreateForm } from "../components/CreateForm";
import { HistoryButton, useHistoryOpen } from "../components/History";
import { useAct } from "../components/useAct";
import { containerNames } from "../format";
import { useFlashKey } from "../react/flash";
import { shallowArrayEqual, useEngineState } from "../react/hooks";

/** Docker's own networks, which it refuses to remove. */
const PREDEFINED = new Set(["bridge", "host", "none"]);

export function NetworksPage() {
  const act = useAct();
  const ids = useEngineState(
    (s) =>
      Object.values(s.data?.networks ?? {})
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((n) => n.id),
    shallowArrayEqual,
  );
  const creating = useEngineState(
    (s) => Object.values(s.pending).filter((p) => p.request.kind === "network" && p.request.action === "create"),
    shallowArrayEqual,
  );
  return (
    <section className="page" aria-labelledby="networks-title">
      <div className="toolbar">
        <h1 id="networks-title">Networks</h1>
        <span className="muted">{ids.length} networks</span>
        <CreateForm kind="network" />
        <span className="spacer" />
        <button type="button" onClick={() => void act({ kind: "network", action: "prune" })}>
          Prune unused…
        </button>
      </div>
      <table className="plain-table" aria-label="Networks">
        <thead>
          <tr>
            <th>Name</th>
            <th>Driver</th>
            <th>Scope</th>
            <th>Subnets</th>
            <th>Members</th>
            <th>Created</th>
            <th />
          </tr>
        </thead>
        <tbody>
          <CreatingRows creating={creating} columns={7} />
          {ids.map((id) => (
            <NetworkRow key={id} id={id} />
          ))}
        </tbody>
      </table>
      {ids.length === 0 && creating.length === 0 && <Empty>No networks.</Empty>}
    </section>
  );
}

const NetworkRow = memo(function NetworkRow({ id }: { id: string }) {
  const network = useEngineState((s) => s.data?.networks[id]);
  const pending = useEngineState((s) => s.pending[`network:${id}`]);
  const flashKey = useFlashKey(network?.rev);
  // A string: the row re-renders when the names change, not on every container change.
  const members = useEngineState((s) => {
    const obj = s.data?.networks[id];
    return obj ? containerNames(obj.containers, s.data?.containers).join(", ") : "";
  });
  const act = useAct();
  const selected = useHistoryOpen("network", id);
  if (!network) return null;
  return (
    <tr className={rowClass(pending !== undefined, selected)} data-testid="network-row" data-name={network.name}>
      <td className="rel strong nowrap" title={network.id}>
        <Flash flashKey={flashKey} />
        {network.name} {network.internal && <Tag tone="off">internal</Tag>}
      </td>
      <td>{network.driver}</td>
      <td>{network.scope}</td>
      <td className="mono">{network.subnets.join(", ")}</td>
      <td>{pending ? <Pending pending={pending} /> : members || <span className="muted">—</span>}</td>
      <td>
        <Age since={network.created} />
      </td>
      <td className="actions">
        <HistoryButton kind="network" id={network.id} name={network.name} />
        {!PREDEFINED.has(network.name) && (
          <button
            type="button"
            className="small danger-text"
            disabled={pending !== undefined}
            onClick={() => void act({ kind: "network", action: "remove", id: network.id, name: network.name })}
          >
            Remove
          </button>
        )}
      </td>
    </tr>
  );
});
