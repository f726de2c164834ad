import { Age, Flash, Tag } from "../components/Cells";
import { CreateForm } from "../components/CreateForm";
import { ActionsCell, ObjectTable, UsersCell } from "../components/ObjectTable";
import { useAct } from "../components/useAct";
import { shallowArrayEqual, useEngineState } from "../react/hooks";
import type { ObjectRow } from "../react/useObjectRow";
import { creatingOf } from "../store/actions";
import type { Network } from "../store/types";

/** Docker's own networks, which it refuses to remove. */
const PREDEFINED = new Set(["bridge", "host", "none"]);

const HEADERS = ["Name", "Driver", "Scope", "Subnets", "Members", "Created", ""];
const usersOf = (network: Network) => network.containers;
const nameOf = (network: Network) => network.name;

function cells(row: ObjectRow<"network"> & { obj: Network }) {
  const network = row.obj;
  return (
    <>
      <td className="rel strong nowrap" title={network.id}>
        <Flash flashKey={row.flashKey} />
        {network.name} {network.internal && <Tag tone="off">internal</Tag>}
      </td>
      <td>{network.driver}</td>
      <td>{network.scope}</td>
      <td className="mono">{network.subnets.join(", ")}</td>
      <UsersCell row={row} />
      <td>
        <Age since={network.created} />
      </td>
      <ActionsCell row={row} name={network.name} removable={!PREDEFINED.has(network.name)} />
    </>
  );
}

export function NetworksPage() {
  const act = useAct();
  const ids = useEngineState(
    (s) =>
      Object.values(s.data?.networks ?? {})
        .sort((a, b) => a.name.localeCompare(b.name))
        .map((n) => n.id),
    shallowArrayEqual,
  );
  const creating = useEngineState((s) => creatingOf(s, "network"), shallowArrayEqual);
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
      <ObjectTable
        kind="network"
        label="Networks"
        headers={HEADERS}
        ids={ids}
        creating={creating}
        empty="No networks."
        usersOf={usersOf}
        nameOf={nameOf}
        cells={cells}
      />
    </section>
  );
}
