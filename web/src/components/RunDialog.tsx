/**
 * Run a container (POST /api/v1/containers): the fields of `docker run`, the image completed
 * from the images the engine has, the network chosen from its networks. A refusal (the
 * server's 422 about a field, Docker's: no such image, a taken name, a port already bound)
 * is one clear line in the form, its field marked; the server leaves nothing half-made.
 *
 * Environment values are write-only: password inputs, sent once, kept only in this form's
 * memory while it is open (the store keeps the names only, see actions.withoutSecrets), never
 * shown again, logged or persisted.
 */
import { type FormEvent, type ReactNode, useRef, useState } from "react";
import { shallowArrayEqual, useEngineState, useLiveStore } from "../react/hooks";
import {
  EMPTY_RUN,
  type EnvRow,
  fieldOfProblem,
  type RestartName,
  type RunField,
  type RunFields,
  type RunProblem,
  runRequestOf,
} from "../store/runForm";
import type { LiveState } from "../store/live";
import { Modal } from "./Modal";

export function RunButton() {
  const [open, setOpen] = useState(false);
  return (
    <>
      <button type="button" className="primary" onClick={() => setOpen(true)}>
        Run…
      </button>
      {open && <RunDialog onClose={() => setOpen(false)} />}
    </>
  );
}

const imageTags = (s: LiveState) =>
  Object.values(s.data?.images ?? {})
    .flatMap((i) => i.tags)
    .sort();
const networkNames = (s: LiveState) =>
  Object.values(s.data?.networks ?? {})
    .map((n) => n.name)
    .sort();

const RESTARTS: { value: RestartName; label: string }[] = [
  { value: "no", label: "no" },
  { value: "always", label: "always" },
  { value: "unless-stopped", label: "unless-stopped" },
  { value: "on-failure", label: "on-failure" },
];

export function RunDialog({ onClose, onStarted }: { onClose: () => void; onStarted?: (id: string | null) => void }) {
  const store = useLiveStore();
  const images = useEngineState(imageTags, shallowArrayEqual);
  const networks = useEngineState(networkNames, shallowArrayEqual);
  const [fields, setFields] = useState<RunFields>(EMPTY_RUN);
  const [problem, setProblem] = useState<RunProblem | null>(null);
  const [running, setRunning] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  const set = <K extends keyof RunFields>(key: K, value: RunFields[K]) => setFields((f) => ({ ...f, [key]: value }));
  const setEnv = (i: number, row: Partial<EnvRow>) =>
    setFields((f) => ({ ...f, env: f.env.map((r, j) => (j === i ? { ...r, ...row } : r)) }));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (running) return;
    const made = runRequestOf(fields);
    if (!made.ok) {
      setProblem({ field: made.field, message: made.message });
      return;
    }
    setProblem(null);
    setRunning(true);
    const result = await store.act({ kind: "container", action: "run", spec: made.request }, { quiet: true });
    setRunning(false);
    if (result.ok) {
      setFields(EMPTY_RUN); // the values go with the form
      onStarted?.(result.id);
      onClose();
    } else {
      setProblem(fieldOfProblem(result.detail));
    }
  };

  const invalid = (field: RunField) => (problem?.field === field ? { "aria-invalid": true, "aria-describedby": "run-error" } : {});
  const textField = (field: "name" | "command" | "ports" | "volumes", label: string, hint: string, placeholder?: string) => (
    <Field label={label} hint={hint}>
      <input
        value={fields[field]}
        onChange={(e) => set(field, e.target.value)}
        placeholder={placeholder}
        spellCheck={false}
        {...invalid(field)}
      />
    </Field>
  );
  return (
    <Modal labelledBy="run-title" className="modal-wide" onClose={onClose} initialFocus={first} testId="run-dialog">
      <h2 id="run-title">Run a container</h2>
      <form className="form run-form" onSubmit={(e) => void submit(e)} autoComplete="off">
        <Field label="Image" hint="one the engine has (pull it first otherwise)">
          <input
            ref={first}
            list="run-images"
            value={fields.image}
            onChange={(e) => set("image", e.target.value)}
            placeholder="busybox:latest"
            spellCheck={false}
            required
            {...invalid("image")}
          />
          <datalist id="run-images">
            {images.map((tag) => (
              <option key={tag} value={tag} />
            ))}
          </datalist>
        </Field>
        {textField("name", "Name", "optional; the engine picks one otherwise")}
        {textField("command", "Command", "optional; as in a shell: sh -c 'echo hi'")}
        {textField("ports", "Ports", "[ip:]host:container[/proto], comma-separated", "8080:80, 127.0.0.1:5353:53/udp")}
        {textField("volumes", "Volumes", "volume:/path or /host/path:/path[:ro], comma-separated", "data:/data, /etc/hostname:/host-name:ro")}
        <Field label="Network">
          <select value={fields.network} onChange={(e) => set("network", e.target.value)} {...invalid("network")}>
            <option value="">default (bridge)</option>
            {networks
              .filter((n) => n !== "bridge")
              .map((n) => (
                <option key={n} value={n}>
                  {n}
                </option>
              ))}
          </select>
        </Field>
        <Field label="Restart policy">
          <span className="inline">
            <select value={fields.restart} onChange={(e) => set("restart", e.target.value as RestartName)} {...invalid("restart")}>
              {RESTARTS.map((r) => (
                <option key={r.value} value={r.value}>
                  {r.label}
                </option>
              ))}
            </select>
            {fields.restart === "on-failure" && (
              <input
                aria-label="Restarts at most"
                className="narrow"
                inputMode="numeric"
                placeholder="max"
                value={fields.retries}
                onChange={(e) => set("retries", e.target.value)}
                {...invalid("retries")}
              />
            )}
          </span>
        </Field>
        <Field label="Labels" hint="key=value, one a line">
          <textarea rows={2} value={fields.labels} onChange={(e) => set("labels", e.target.value)} spellCheck={false} {...invalid("labels")} />
        </Field>
        <fieldset className="env" {...(problem?.field === "env" ? { "aria-describedby": "run-error" } : {})}>
          <legend>
            Environment <span className="muted">(values are write-only: sent once, never shown again)</span>
          </legend>
          {fields.env.map((row, i) => (
            <div key={i} className="env-row">
              <input
                aria-label={`Variable ${i + 1} name`}
                placeholder="NAME"
                value={row.name}
                onChange={(e) => setEnv(i, { name: e.target.value })}
                spellCheck={false}
                aria-invalid={problem?.field === "env" || undefined}
              />
              <input
                aria-label={`Variable ${i + 1} value`}
                type="password"
                autoComplete="new-password"
                placeholder="value"
                value={row.value}
                onChange={(e) => setEnv(i, { value: e.target.value })}
              />
              <button
                type="button"
                className="small"
                aria-label={`Remove variable ${i + 1}`}
                onClick={() => setFields((f) => ({ ...f, env: f.env.filter((_, j) => j !== i) }))}
              >
                ×
              </button>
            </div>
          ))}
          <button type="button" className="small" onClick={() => setFields((f) => ({ ...f, env: [...f.env, { name: "", value: "" }] }))}>
            Add variable
          </button>
        </fieldset>
        <label className="check">
          <input type="checkbox" checked={fields.start} onChange={(e) => set("start", e.target.checked)} />
          Start it once created
        </label>
        {problem && (
          <p id="run-error" className="form-error" role="alert" data-field={problem.field ?? ""}>
            {problem.message}
          </p>
        )}
        <div className="modal-buttons">
          <button type="button" onClick={onClose}>
            Cancel
          </button>
          <button type="submit" className="primary" disabled={running}>
            {running ? (fields.start ? "Starting…" : "Creating…") : fields.start ? "Run" : "Create"}
          </button>
        </div>
      </form>
    </Modal>
  );
}

function Field({ label, hint, children }: { label: string; hint?: string; children: ReactNode }) {
  return (
    <label className="field">
      <span>
        {label}
        {hint && <span className="muted"> · {hint}</span>}
      </span>
      {children}
    </label>
  );
}
