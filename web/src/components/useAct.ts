import { useCallback } from "react";
import { useLiveStore } from "../react/hooks";
import { type ActionRequest, type ActOptions, type ActResult, isDestructive } from "../store/actions";
import { type ConfirmRequest, useConfirm } from "./Confirm";

const PRUNE_TEXT: Record<Exclude<ActionRequest["kind"], "project">, string> = {
  container: "Remove every stopped container?",
  image: "Remove every dangling image (no tag, not used by a container)?",
  volume: "Remove every volume no container uses? Their data is deleted.",
  network: "Remove every network no container uses?",
};

function confirmation(req: ActionRequest, running: boolean): ConfirmRequest {
  if (req.action === "prune") {
    return { title: `Prune ${req.kind}s`, message: PRUNE_TEXT[req.kind], confirmLabel: "Prune" };
  }
  if (req.kind === "project") {
    return {
      title: `Remove project ${req.project}?`,
      message:
        "Every container of the project is stopped and removed, as docker compose down does " +
        "(its networks and volumes stay).",
      confirmLabel: "Remove",
    };
  }
  const name = "name" in req && req.name ? req.name : "id" in req ? req.id : "";
  if (req.action === "kill") {
    return {
      title: `Kill ${name}?`,
      message: "The container gets SIGKILL, with no chance to shut down cleanly.",
      confirmLabel: "Kill",
    };
  }
  const what = `${req.kind} ${name}`;
  const option =
    req.kind === "container"
      ? { label: "Force: kill it first if it is running", initial: running }
      : req.kind === "image"
        ? { label: "Force: even if a container uses it" }
        : undefined;
  return {
    title: `Remove ${what}?`,
    message:
      req.kind === "volume"
        ? "The volume and its data are deleted."
        : req.kind === "container"
          ? "The container and its filesystem are deleted."
          : `The ${req.kind} is deleted.`,
    confirmLabel: "Remove",
    ...(option ? { option } : {}),
  };
}

const CANCELLED: ActResult = { ok: false, status: null, detail: "Cancelled.", skipped: true };

/** Run an action: ask first when it is destructive, then optimistically through the store. */
export function useAct(): (req: ActionRequest, opts?: { running?: boolean } & ActOptions) => Promise<ActResult> {
  const store = useLiveStore();
  const confirm = useConfirm();
  return useCallback(
    async (req, opts) => {
      let request = req;
      if (isDestructive(req)) {
        const answer = await confirm(confirmation(req, opts?.running ?? false));
        if (!answer.confirmed) return CANCELLED;
        if (request.action === "remove" && request.kind !== "project" && answer.option) request = { ...request, force: true };
      }
      return store.act(request, { quiet: opts?.quiet });
    },
    [store, confirm],
  );
}
