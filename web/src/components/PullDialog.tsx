/**
 * Pull an image (POST /api/v1/images/pull): a reference, then the pull's progress as its
 * operation reports it (the image's fraction as a bar, each layer's status and bytes), then
 * done, or failed with the engine's message. Closed while it runs, the pull goes on: the
 * Images table shows it ("pulling… 42%").
 */
import { type FormEvent, useEffect, useRef, useState } from "react";
import { bytes } from "../format";
import { useEngineState, useLiveStore, useOperation } from "../react/hooks";
import { type ActResult, type ActionRequest, pendingKey } from "../store/actions";
import { layersOf, percentOf, pullProgress } from "../store/progress";
import { Modal } from "./Modal";

export function PullButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" onClick={() => setOpen(true)}>
        Pull…
      </button>
      {open && <PullDialog onClose={() => setOpen(false)} />}
    </>
  );
}

function PullDialog({ onClose }: { onClose: () => void }) {
  const store = useLiveStore();
  const [image, setImage] = useState("");
  const [pulling, setPulling] = useState<string | null>(null);
  const [result, setResult] = useState<ActResult | null>(null);
  const [operation, setOperation] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const request: ActionRequest | null = pulling ? { kind: "image", action: "pull", name: pulling } : null;
  const pending = useEngineState((s) => (request ? s.pending[pendingKey(request)] : undefined));
  // The operation outlives the pending row: keep showing its last progress.
  useEffect(() => {
    if (pending?.operation) setOperation(pending.operation);
  }, [pending?.operation]);
  const op = useOperation(operation);
  const running = pulling !== null && result === null;

  const submit = (e: FormEvent) => {
    e.preventDefault();
    const ref = image.trim();
    if (!ref || running) return;
    setPulling(ref);
    setResult(null);
    setOperation(null);
    void store.act({ kind: "image", action: "pull", name: ref }, { quiet: true }).then((r) => {
      setResult(r);
      if (r.ok && r.operation) setOperation(r.operation.operation);
      if (!r.ok) input.current?.focus();
    });
  };

  const progress = pullProgress(op);
  const done = result?.ok === true;
  const fraction = done ? 1 : (progress?.fraction ?? 0);
  const pct = percentOf(fraction);
  return (
    <Modal labelledBy="pull-title" className="modal-wide" onClose={onClose} initialFocus={input} testId="pull-dialog">
      <h2 id="pull-title">Pull an image</h2>
      <form className="form" onSubmit={submit}>
        <label className="field">
          <span>Image</span>
          <input
            ref={input}
            value={image}
            onChange={(e) => setImage(e.target.value)}
            placeholder="name[:tag], registry/name:tag or name@digest"
            aria-invalid={result?.ok === false}
            aria-describedby={result?.ok === false ? "pull-error" : undefined}
            disabled={running}
            spellCheck={false}
            autoComplete="off"
          />
        </label>
        {pulling !== null && (running || done || progress) && (
          <div className="pull-progress" data-testid="pull-progress" data-state={running ? "pulling" : done ? "done" : "failed"}>
            <div
              className="progressbar"
              role="progressbar"
              aria-label={`Pull of ${pulling}`}
              aria-valuemin={0}
              aria-valuemax={100}
              aria-valuenow={pct}
            >
              <div className={`progressbar-fill${result?.ok === false ? " failed" : ""}`} style={{ width: `${pct}%` }} />
            </div>
            <div className="pull-status" aria-live="polite">
              {running ? (
                <>
                  <span className="spinner" aria-hidden="true" /> {pct}% · {progress?.status ?? "asking the registry…"}
                </>
              ) : done ? (
                <strong>Pulled {pulling}.</strong>
              ) : null}{" "}
              {done && progress?.status && <span className="muted">{progress.status}</span>}
            </div>
            {progress && (
              <ul className="layers" aria-label="Layers">
                {layersOf(progress).map((l) => (
                  <li key={l.id} data-status={l.status}>
                    <span className="mono">{l.id}</span> {l.status}
                    {l.total !== null && (
                      <span className="muted">
                        {" "}
                        {bytes(l.current ?? 0)} of {bytes(l.total)}
                      </span>
                    )}
                  </li>
                ))}
              </ul>
            )}
          </div>
        )}
        {result?.ok === false && (
          <p id="pull-error" className="form-error" role="alert">
            {result.detail}
          </p>
        )}
        <div className="modal-buttons">
          <button type="button" onClick={onClose}>
            {running ? "Hide (the pull goes on)" : "Close"}
          </button>
          <button type="submit" className="primary" disabled={running || !image.trim()}>
            {running ? "Pulling…" : done ? "Pull again" : "Pull"}
          </button>
        </div>
      </form>
    </Modal>
  );
}
