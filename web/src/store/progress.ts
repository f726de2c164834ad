/**
 * What an operation's `progress` says (docs/protocol.md §5): a pull's (per layer, and the
 * image's fraction) or a compose project's (each container's outcome). Pure.
 */
import type { Operation, ProjectProgress, PullProgress } from "./types";

/** The pull's progress, if ``op`` is a pull that reported some. */
export function pullProgress(op: Operation | undefined): PullProgress | null {
  const p = op?.progress;
  return op?.action === "pull" && p && typeof p.image === "string" ? (p as unknown as PullProgress) : null;
}

/** The project's progress, if ``op`` acts on a compose project and reported some. */
export function projectProgress(op: Operation | undefined): ProjectProgress | null {
  const p = op?.progress;
  return op?.target.startsWith("projects/") && p && typeof p.project === "string" ? (p as unknown as ProjectProgress) : null;
}

/** A percentage from 0 to 100 (whole), of a fraction from 0 to 1. */
export const percentOf = (fraction: number | undefined): number => Math.round(Math.min(1, Math.max(0, fraction ?? 0)) * 100);

/** The short words a row adds to its pending label: "42%", "2 of 3". */
export function progressText(op: Operation | undefined): string {
  const pull = pullProgress(op);
  if (pull) return `${percentOf(pull.fraction)}%`;
  const project = projectProgress(op);
  if (project) return `${(project.done ?? 0) + (project.failed ?? 0)} of ${project.total ?? 0}`;
  return "";
}

/** A pull's layers, in the order the engine told of them. */
export function layersOf(pull: PullProgress): { id: string; status: string; current: number | null; total: number | null; fraction: number }[] {
  return Object.entries(pull.layers ?? {}).map(([id, l]) => ({
    id,
    status: l.status,
    current: l.current ?? null,
    total: l.total ?? null,
    fraction: l.fraction,
  }));
}
