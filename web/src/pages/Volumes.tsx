import { Age, Flash } from "../components/Cells";
import { CreateForm } from "../components/CreateForm";
import { ActionsCell, ObjectTable, UsersCell } from "../components/ObjectTable";
import { useAct } from "../components/useAct";
import { shallowArrayEqual, useEngineState } from "../react/hooks";
import type { ObjectRow } from "../react/useObjectRow";
import { creatingOf } from "../store/actions";
import type { Volume } from "../store/types";

const HEADERS = ["Name", "Driver", "Scope", "Created", "In use by", ""];
const usersOf = (volume: Volume) => volume.used_by;
const nameOf = (volume: Volume) => volume.name;

function cells(row: ObjectRow<"volume"> & { obj: Volume }) {
  const volume = row.obj;
  return (
    <>
      <td className="rel strong ellipsis" title={volume.mountpoint}>
        <Flash flashKey={row.flashKey} />
        {row.id}
      </td>
      <td>{volume.driver}</td>
      <td>{volume.scope}</td>
      <td>
        <Age since={volume.created} />
      </td>
      <UsersCell row={row} />
      <ActionsCell row={row} name={row.id} />
    </>
  );
}

export function VolumesPage() {
  const act = useAct();
  const names = useEngineState(
    (s) => Object.keys(s.data?.volumes ?? {}).sort((a, b) => a.localeCompare(b)),
    shallowArrayEqual,
  );
  const creating = useEngineState((s) => creatingOf(s, "volume"), shallowArrayEqual);
  return (
    <section className="page" aria-labelledby="volumes-title">
      <div className="toolbar">
        <h1 id="volumes-title">Volumes</h1>
        <span className="muted">{names.length} volumes</span>
        <CreateForm kind="volume" />
        <span className="spacer" />
        <button type="button" onClick={() => void act({ kind: "volume", action: "prune" })}>
          Prune unused…
        </button>
      </div>
      <ObjectTable
        kind="volume"
        label="Volumes"
        headers={HEADERS}
        ids={names}
        creating={creating}
        empty="No volumes."
        usersOf={usersOf}
        nameOf={nameOf}
        cells={cells}
      />
    </section>
  );
}
