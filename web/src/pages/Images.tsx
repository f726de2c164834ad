import { Age, Flash, Tag } from "../components/Cells";
import { ActionsCell, ObjectTable, UsersCell } from "../components/ObjectTable";
import { PullButton } from "../components/PullDialog";
import { useAct } from "../components/useAct";
import { bytes, shortId } from "../format";
import { shallowArrayEqual, useEngineState } from "../react/hooks";
import type { ObjectRow } from "../react/useObjectRow";
import { creatingOf } from "../store/actions";
import type { Image } from "../store/types";

/** By first tag; untagged (dangling) images last, by id. */
const byTag = (a: Image, b: Image) => {
  const [ta, tb] = [a.tags[0], b.tags[0]];
  if (ta !== undefined && tb !== undefined) return ta.localeCompare(tb) || a.id.localeCompare(b.id);
  if (ta !== undefined) return -1;
  if (tb !== undefined) return 1;
  return a.id.localeCompare(b.id);
};

const HEADERS = ["Tags", "Id", "Size", "Created", "In use by", ""];
const usersOf = (image: Image) => image.containers;
const nameOf = (image: Image) => image.tags[0] ?? shortId(image.id);

function cells(row: ObjectRow<"image"> & { obj: Image }) {
  const image = row.obj;
  return (
    <>
      <td className="rel">
        <Flash flashKey={row.flashKey} />
        {image.dangling ? (
          <Tag tone="warn">dangling</Tag>
        ) : (
          image.tags.map((t) => (
            <div key={t} className="strong nowrap">
              {t}
            </div>
          ))
        )}
      </td>
      <td className="mono" title={image.id}>
        {shortId(image.id)}
      </td>
      <td>{bytes(image.size)}</td>
      <td>
        <Age since={image.created} />
      </td>
      <UsersCell row={row} />
      <ActionsCell row={row} name={nameOf(image)} />
    </>
  );
}

export function ImagesPage() {
  const act = useAct();
  const ids = useEngineState(
    (s) => Object.values(s.data?.images ?? {}).sort(byTag).map((i) => i.id),
    shallowArrayEqual,
  );
  const dangling = useEngineState((s) => s.data?.system_stats?.images_dangling ?? 0);
  const size = useEngineState((s) => s.data?.system_stats?.images_size ?? 0);
  // Pulls on their way (this tab's), above the images.
  const pulling = useEngineState((s) => creatingOf(s, "image"), shallowArrayEqual);
  return (
    <section className="page" aria-labelledby="images-title">
      <div className="toolbar">
        <h1 id="images-title">Images</h1>
        <span className="muted">
          {ids.length} images, {bytes(size)}, {dangling} dangling
        </span>
        <span className="spacer" />
        <PullButton />
        <button type="button" onClick={() => void act({ kind: "image", action: "prune" })}>
          Prune dangling…
        </button>
      </div>
      <ObjectTable
        kind="image"
        label="Images"
        headers={HEADERS}
        ids={ids}
        creating={pulling}
        empty="No images."
        usersOf={usersOf}
        nameOf={nameOf}
        cells={cells}
      />
    </section>
  );
}
