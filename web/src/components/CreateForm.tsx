import { useState, type FormEvent } from "react";
import type { CreatableKind } from "../store/actions";
import { useAct } from "./useAct";

/** Create a volume or a network by name. */
export function CreateForm({ kind }: { kind: CreatableKind }) {
  const [name, setName] = useState("");
  const act = useAct();
  const submit = (e: FormEvent) => {
    e.preventDefault();
    const trimmed = name.trim();
    if (!trimmed) return;
    setName("");
    void act({ kind, action: "create", name: trimmed });
  };
  return (
    <form className="create-form" onSubmit={submit}>
      <input
        aria-label={`New ${kind} name`}
        placeholder={`new ${kind} name`}
        value={name}
        pattern="[a-zA-Z0-9][a-zA-Z0-9_.\-]*"
        title="Letters, digits, _ . - (starting with a letter or digit)"
        onChange={(e) => setName(e.target.value)}
      />
      <button type="submit" disabled={!name.trim()}>
        Create {kind}
      </button>
    </form>
  );
}
