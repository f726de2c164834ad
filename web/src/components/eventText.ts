/**
 * What the History panel says of one Docker event: its action (with Docker's detail, e.g.
 * "health_status: healthy"), its type when it is not the object's own (a "network connect" in
 * a container's history), and the few attributes worth reading (exit code, signal, the network,
 * the image...), never the labels Docker copies into every container event.
 */
import type { TimelineEvent, TimelineKind } from "../store/history";
import { shortId } from "../format";

export type Tone = "ok" | "warn" | "bad" | "neutral";

export interface EventText {
  action: string;
  /** Docker's event type, when it is not the kind of the object whose history this is. */
  type: string | null;
  /** [label, value], in reading order. */
  facts: [string, string][];
  tone: Tone;
}

const SIGNALS: Record<string, string> = {
  "1": "SIGHUP",
  "2": "SIGINT",
  "3": "SIGQUIT",
  "6": "SIGABRT",
  "9": "SIGKILL",
  "10": "SIGUSR1",
  "12": "SIGUSR2",
  "15": "SIGTERM",
};

/** "15 (SIGTERM)"; a signal Docker already names ("SIGTERM") as it is. */
export function signalText(value: string): string {
  const name = SIGNALS[value];
  return name ? `${value} (${name})` : value;
}

function toneOf(e: TimelineEvent): Tone {
  const { action, detail } = e;
  if (action === "health_status") {
    return detail === "healthy" ? "ok" : detail === "unhealthy" ? "bad" : "warn";
  }
  if (action === "die") return e.attributes.exitCode === "0" ? "neutral" : "bad";
  if (["destroy", "delete", "kill", "oom", "remove"].includes(action)) return "bad";
  if (["create", "start", "restart", "unpause", "pull", "connect", "mount", "tag"].includes(action)) return "ok";
  if (["pause", "stop", "disconnect", "unmount", "untag"].includes(action)) return "neutral";
  return "neutral";
}

/**
 * The text of ``e`` in the history of a ``kind``; ``containerName`` names a container id
 * (network and volume events name containers by id).
 */
export function describeEvent(
  kind: TimelineKind,
  e: TimelineEvent,
  containerName: (id: string) => string = shortId,
): EventText {
  const a = e.attributes;
  const facts: [string, string][] = [];
  const add = (label: string, value: string | undefined) => {
    if (value !== undefined && value !== "") facts.push([label, value]);
  };
  const own = e.type === kind;
  if (!own && e.type === "network") add("network", a.name ?? shortId(e.actor_id));
  if (!own && e.type === "volume") {
    add("volume", e.actor_id.length > 24 ? shortId(e.actor_id) : e.actor_id);
    add("at", a.destination);
  }
  if (e.type === "container" && kind === "container") {
    if (e.action === "create") add("image", a.image);
    if (e.action === "create" || e.action === "rename") add("name", a.name);
    if (e.action === "rename") add("was", a.oldName?.replace(/^\//, ""));
  }
  if (own && e.type === "image") add("name", a.name);
  if (own && (e.type === "network" || e.type === "volume")) {
    if (a.container) add("container", containerName(a.container));
    if (e.type === "volume") add("at", a.destination);
    if (e.action === "create") add("driver", e.type === "network" ? a.type : a.driver);
  }
  add("exit code", a.exitCode);
  if (a.signal !== undefined) add("signal", signalText(a.signal));
  return {
    action: e.detail ? `${e.action}: ${e.detail}` : e.action,
    type: own ? null : e.type,
    facts,
    tone: toneOf(e),
  };
}

/** Milliseconds since the epoch of a time in nanoseconds. */
export function nanosToMs(ns: bigint): number {
  return Number(ns / 1_000_000n);
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/** "2026-11-22 14:03:52.294", local time. */
export function absoluteTime(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}

/** Consecutive exec_* events (health checks run one exec each interval): one row in the list. */
export interface ExecRun {
  /** How many execs ran (each is an exec_create, exec_start, exec_die). */
  execs: number;
  /** How many ended with a non-zero exit code (a failed health check). */
  failed: number;
  newest: TimelineEvent;
  oldest: TimelineEvent;
  size: number;
}

export type TimelineRow = { event: TimelineEvent; run?: undefined } | { run: ExecRun; event?: undefined };

const isExec = (e: TimelineEvent) => e.type === "container" && e.action.startsWith("exec_");

/** The events in order, each run of two or more exec_* events folded into one row. */
export function foldExecs(events: readonly TimelineEvent[]): TimelineRow[] {
  const rows: TimelineRow[] = [];
  for (let i = 0; i < events.length; ) {
    let j = i;
    while (j < events.length && isExec(events[j]!)) j += 1;
    if (j - i >= 2) {
      const run = events.slice(i, j);
      const count = (action: string) => run.filter((e) => e.action === action).length;
      rows.push({
        run: {
          execs: Math.max(count("exec_create"), count("exec_start"), count("exec_die")),
          failed: run.filter((e) => e.action === "exec_die" && (e.attributes.exitCode ?? "0") !== "0").length,
          newest: run[0]!,
          oldest: run.at(-1)!,
          size: run.length,
        },
      });
      i = j;
    } else {
      rows.push({ event: events[i]! });
      i += 1;
    }
  }
  return rows;
}
