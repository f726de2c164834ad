import { memo } from "react";
import { Age, CreatingRows, Empty, Flash, Pending, rowClass } from "../components/Cells";
import { CreateForm } from "../components/CreateForm";
import { HistoryButton, useHistoryOpen } from "../components/History";
import { useAct } from "../components/useAct";
import { containerNames } from "../format";
import { useFlashKey } from "../react/flash";
import { shallowArrayEqual, useEngineState } from "../react/hooks";

export function VolumesPage() {
  const act = useAct();
  const names = useEngineState(
    (s) => Object.keys(s.data?.volumes ?? {}).sort((a, b) => a.localeCompare(b)),
    shallowArrayEqual,
  );
  const creating = useEngineState(
    (s) => Object.values(s.pending).filter((p) => p.request.kind === "volume" && p.request.action === "create"),
    shallowArrayEqual,
  );
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
      <table className="plain-table" aria-label="Volumes">
        <thead>
          <tr>
            <th>Name</th>
            <th>Driver</th>
            <th>Scope</th>
            <th>Created</th>
            <th>In use by</th>
            <th />
          </tr>
        </thead>
        <tbody>
          <CreatingRows creating={creating} columns={6} />
          {names.map((name) => (
            <VolumeRow key={name} name={name} />
          ))}
        </tbody>
      </table>
      {names.length === 0 && creating.length === 0 && <Empty>No volumes.</Empty>}
    </section>
  );
}

const VolumeRow = memo(function VolumeRow({ name }: { name: string }) {
  const volume = useEngineState((s) => s.data?.volumes[name]);
  const pending = useEngineState((s) => s.pending[`volume:${name}`]);
  const flashKey = useFlashKey(volume?.rev);
  // A string: the row re-renders when the names change, not on every container change.
  const users = useEngineState((s) => {
    const obj = s.data?.volumes[name];
    return obj ? containerNames(obj.used_by, s.data?.containers).join(", ") : "";
  });
  const act = useAct();
  const selected = useHistoryOpen("volume", name);
  if (!volume) return null;
  return (
    <tr className={rowClass(pending !== undefined, selected)} data-testid="volume-row" data-name={name}>
      <td className="rel strong ellipsis" title={volume.mountpoint}>
        <Flash flashKey={flashKey} />
        {name}
      </td>
      <td>{volume.driver}</td>
      <td>{volume.scope}</td>
      <td>
        <Age since={volume.created} />
      </td>
      <td>{pending ? <Pending pending={pending} /> : users || <span className="muted">—</span>}</td>
      <td className="actions">
        <HistoryButton kind="volume" id={name} name={name} />
        <button
          type="button"
          className="small danger-text"
          disabled={pending !== undefined}
          onClick={() => void act({ kind: "volume", action: "remove", id: name, name })}
        >
          Remove
        </button>
      </td>
    </tr>
  );
});
