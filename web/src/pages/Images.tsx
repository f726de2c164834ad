import { memo } from "react";
import { Age, Empty, Flash, Pending, rowClass, Tag } from "../components/Cells";
import { HistoryButton, useHistoryOpen } from "../components/History";
import { useAct } from "../components/useAct";
import { bytes, containerNames, shortId } from "../format";
import { useFlashKey } from "../react/flash";
import { shallowArrayEqual, useEngineState } from "../react/hooks";
import type { Image } from "../store/types";

/** By first tag; untagged (dangling) images last, by id. */
const byTag = (a: Image, b: Image) => {
  const [ta, tb] = [a.tags[0], b.tags[0]];
  if (ta !== undefined && tb !== undefined) return ta.localeCompare(tb) || a.id.localeCompare(b.id);
  if (ta !== undefined) return -1;
  if (tb !== undefined) return 1;
  return a.id.localeCompare(b.id);
};

export function ImagesPage() {
  const act = useAct();
  const ids = useEngineState(
    (s) => Object.values(s.data?.images ?? {}).sort(byTag).map((i) => i.id),
    shallowArrayEqual,
  );
  const dangling = useEngineState((s) => s.data?.system_stats?.images_dangling ?? 0);
  const size = useEngineState((s) => s.data?.system_stats?.images_size ?? 0);
  return (
    <section className="page" aria-labelledby="images-title">
      <div className="toolbar">
        <h1 id="images-title">Images</h1>
        <span className="muted">
          {ids.length} images, {bytes(size)}, {dangling} dangling
        </span>
        <span className="spacer" />
        <button type="button" onClick={() => void act({ kind: "image", action: "prune" })}>
          Prune dangling…
        </button>
      </div>
      <table className="plain-table" aria-label="Images">
        <thead>
          <tr>
            <th>Tags</th>
            <th>Id</th>
            <th>Size</th>
            <th>Created</th>
            <th>In use by</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {ids.map((id) => (
            <ImageRow key={id} id={id} />
          ))}
        </tbody>
      </table>
      {ids.length === 0 && <Empty>No images.</Empty>}
    </section>
  );
}

const ImageRow = memo(function ImageRow({ id }: { id: string }) {
  const image = useEngineState((s) => s.data?.images[id]);
  const pending = useEngineState((s) => s.pending[`image:${id}`]);
  const flashKey = useFlashKey(image?.rev);
  // A string: the row re-renders when the names change, not on every container change.
  const users = useEngineState((s) => {
    const obj = s.data?.images[id];
    return obj ? containerNames(obj.containers, s.data?.containers).join(", ") : "";
  });
  const act = useAct();
  const selected = useHistoryOpen("image", id);
  if (!image) return null;
  const name = image.tags[0] ?? shortId(image.id);
  return (
    <tr className={rowClass(pending !== undefined, selected)} data-testid="image-row" data-name={name}>
      <td className="rel">
        <Flash flashKey={flashKey} />
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
      <td>{pending ? <Pending pending={pending} /> : users || <span className="muted">—</span>}</td>
      <td className="actions">
        <HistoryButton kind="image" id={image.id} name={name} />
        <button
          type="button"
          className="small danger-text"
          disabled={pending !== undefined}
          onClick={() => void act({ kind: "image", action: "remove", id: image.id, name })}
        >
          Remove
        </button>
      </td>
    </tr>
  );
});
