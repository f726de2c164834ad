/**
 * The Run form's fields as `docker run` users write them, and the RunRequest they make
 * (POST /api/v1/containers, docs/protocol.md §5). Pure. The form checks only what it must to
 * build the request (a command's quotes, `key=value` lines); the server checks the forms
 * themselves (a port spec, a volume, a name) and its message names the field, which
 * `fieldOfProblem` finds so that the form can mark it.
 */
import type { RunRequest } from "./types";

export type RestartName = "no" | "always" | "unless-stopped" | "on-failure";

export interface EnvRow {
  name: string;
  /** Write-only: sent once, never shown again, never stored. */
  value: string;
}

export interface RunFields {
  image: string;
  name: string;
  command: string;
  /** Published ports, separated by commas or spaces: `8080:80, 127.0.0.1:53:53/udp`. */
  ports: string;
  /** Volumes and bind mounts, separated by commas or spaces: `data:/data, /etc:/host-etc:ro`. */
  volumes: string;
  /** A network's name; empty for the engine's default. */
  network: string;
  restart: RestartName;
  /** For `on-failure`: restarts at most (empty: no cap). */
  retries: string;
  /** One `key=value` a line. */
  labels: string;
  env: EnvRow[];
  /** Start it once created (else: created only). */
  start: boolean;
}

export type RunField = Exclude<keyof RunFields, "start" | "retries"> | "retries";

export const EMPTY_RUN: RunFields = {
  image: "",
  name: "",
  command: "",
  ports: "",
  volumes: "",
  network: "",
  restart: "no",
  retries: "",
  labels: "",
  env: [],
  start: true,
};

export type RunFormResult = { ok: true; request: RunRequest } | { ok: false; field: RunField; message: string };

/** Words as a shell splits them: spaces separate, quotes ('…', "…") and backslashes keep. */
export function splitCommand(text: string): string[] {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let quote: "'" | '"' | null = null;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quote) {
      if (ch === quote) quote = null;
      else if (ch === "\\" && quote === '"' && (text[i + 1] === '"' || text[i + 1] === "\\")) word += text[++i];
      else word += ch;
    } else if (ch === "'" || ch === '"') {
      quote = ch;
      inWord = true;
    } else if (ch === "\\" && i + 1 < text.length) {
      word += text[++i];
      inWord = true;
    } else if (/\s/.test(ch)) {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
    } else {
      word += ch;
      inWord = true;
    }
  }
  if (quote) throw new Error(`a ${quote === "'" ? "single" : "double"} quote is not closed`);
  if (inWord) words.push(word);
  return words;
}

const items = (text: string) => text.split(/[\s,]+/).filter(Boolean);

/** The RunRequest of ``fields``, or the field that cannot make one and why. */
export function runRequestOf(fields: RunFields): RunFormResult {
  const image = fields.image.trim();
  if (!image) return { ok: false, field: "image", message: "Which image? Pick one the engine has (pull it first if it has none)." };
  const request: RunRequest = { image };
  const name = fields.name.trim();
  if (name) request.name = name;
  if (fields.command.trim()) {
    try {
      request.command = splitCommand(fields.command);
    } catch (err) {
      return { ok: false, field: "command", message: `The command: ${(err as Error).message}.` };
    }
  }
  const ports = items(fields.ports);
  if (ports.length) request.ports = ports;
  const volumes = items(fields.volumes);
  if (volumes.length) request.volumes = volumes;
  if (fields.network) request.network = fields.network;
  if (fields.restart !== "no") {
    const retries = fields.retries.trim();
    if (fields.restart === "on-failure" && retries) {
      if (!/^\d+$/.test(retries)) return { ok: false, field: "retries", message: "Restarts at most: a whole number." };
      request.restart = `on-failure:${Number(retries)}`;
    } else {
      request.restart = fields.restart;
    }
  }
  const labels: Record<string, string> = {};
  for (const line of fields.labels.split("\n").map((l) => l.trim()).filter(Boolean)) {
    const eq = line.indexOf("=");
    if (eq <= 0) return { ok: false, field: "labels", message: `Label "${line}": write it as key=value.` };
    labels[line.slice(0, eq).trim()] = line.slice(eq + 1).trim();
  }
  if (Object.keys(labels).length) request.labels = labels;
  const env: string[] = [];
  for (const row of fields.env) {
    const variable = row.name.trim();
    if (!variable && !row.value) continue;
    // The message never quotes a value.
    if (!variable) return { ok: false, field: "env", message: "An environment variable has a value but no name." };
    if (/[=\s]/.test(variable)) return { ok: false, field: "env", message: `Environment variable "${variable}": a name has no "=" and no spaces.` };
    env.push(`${variable}=${row.value}`);
  }
  if (env.length) request.env = env;
  if (!fields.start) request.start = false;
  return { ok: true, request };
}

/** What a refusal of the run says, and the field it is about (null: the run as a whole). */
export interface RunProblem {
  field: RunField | null;
  message: string;
}

const FIELD_OF_BODY: Record<string, RunField> = {
  image: "image",
  name: "name",
  command: "command",
  ports: "ports",
  volumes: "volumes",
  network: "network",
  restart: "restart",
  labels: "labels",
  env: "env",
};

/**
 * The field a server's or Docker's message is about: the server's 422 names it
 * (`body.ports: Value error, port spec '99999:80': …`, which reads better as `ports: port
 * spec …`); Docker's words tell the others (`No such image`, a name `already in use`, a port
 * `already allocated`).
 */
export function fieldOfProblem(detail: string): RunProblem {
  const body = /^body\.(\w+)(?:\.\d+)?: (?:Value error, )?/.exec(detail);
  if (body) {
    const field = FIELD_OF_BODY[body[1]!] ?? null;
    return { field, message: `${body[1]}: ${detail.slice(body[0].length)}` };
  }
  if (/no such image|manifest unknown|pull access denied/i.test(detail)) return { field: "image", message: detail };
  if (/container name .* is already in use/i.test(detail)) return { field: "name", message: detail };
  if (/port is already allocated|address already in use|bind for/i.test(detail)) return { field: "ports", message: detail };
  if (/network .* not found/i.test(detail)) return { field: "network", message: detail };
  return { field: null, message: detail };
}
