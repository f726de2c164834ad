/** The server's engines (protocol.md §8): `GET /api/v1/engines`. */
import type { EngineList } from "./types";

export type EngineListing = EngineList;

/** The server's engines, or null when they cannot be read (not signed in, an older server). */
export async function fetchEngines(
  request: (path: string, init?: RequestInit) => Promise<Response>,
): Promise<EngineListing | null> {
  try {
    const response = await request("/api/v1/engines", { headers: { Accept: "application/json" } });
    if (!response.ok) return null;
    const body = (await response.json()) as Partial<EngineListing>;
    if (typeof body.default !== "string" || !Array.isArray(body.engines)) return null;
    return { default: body.default, engines: body.engines };
  } catch {
    return null;
  }
}
