import type { Container, Port } from "./store/types";

export function shortId(id: string): string {
  return id.replace(/^sha256:/, "").slice(0, 12);
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return "";
  const units = ["B", "kB", "MB", "GB", "TB"];
  let value = n;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`;
}

/** "5 s", "3 min", "2 h", "4 d": how long ago ``iso`` was, at ``now``. */
export function age(iso: string | null | undefined, now: number): string {
  if (!iso) return "";
  const then = Date.parse(iso);
  if (Number.isNaN(then) || then <= 0) return "";
  const s = Math.max(0, Math.round((now - then) / 1000));
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h`;
  if (s < 86400 * 365) return `${Math.floor(s / 86400)} d`;
  return `${Math.floor(s / (86400 * 365))} y`;
}

/** "127.0.0.1:8080→80", "53/udp": TCP, by far the most common, goes without saying. */
export function port(p: Port): string {
  const inner = p.protocol === "tcp" ? String(p.private_port) : `${p.private_port}/${p.protocol}`;
  if (p.host_port === null) return inner;
  const ip = p.host_ip && p.host_ip !== "0.0.0.0" && p.host_ip !== "::" ? `${p.host_ip}:` : "";
  return `${ip}${p.host_port}→${inner}`;
}

/** Ports, published ones first, each (IPv4 and IPv6 bindings of one port) once. */
export function ports(c: Container): string {
  const seen = new Set<string>();
  const out: string[] = [];
  const sorted = [...c.ports].sort((a, b) => Number(b.host_port !== null) - Number(a.host_port !== null));
  for (const p of sorted) {
    const text = port({ ...p, host_ip: p.host_ip === "::" ? "0.0.0.0" : p.host_ip });
    if (!seen.has(text)) {
      seen.add(text);
      out.push(text);
    }
  }
  return out.join(", ");
}

export function clock(ms: number): string {
  return new Date(ms).toLocaleTimeString();
}

/** The container's names for ids, for "in use by" columns. */
export function containerNames(
  ids: readonly string[],
  containers: Record<string, Container> | undefined,
): string[] {
  return ids.map((id) => containers?.[id]?.name ?? shortId(id)).sort((a, b) => a.localeCompare(b));
}

/** The address of a container's page (a hash route: it can be shared and reloaded). */
export function containerHref(id: string, base = "#/"): string {
  return `${base}containers/${encodeURIComponent(id)}`;
}
