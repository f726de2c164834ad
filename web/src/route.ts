/**
 * Where pages live. With one engine, as always: `#/containers`, `#/containers/<id>`,
 * `#/logs/…`. With several (protocol.md §8), the overview of every engine is the landing page
 * (`#/`) and each engine's pages are under `#/e/<engine>/` (`#/e/prod/containers`). The pages
 * build their links from the base they are given (RouteBase), so the same page serves both.
 */
import { createContext, useContext } from "react";

/** The prefix of the shown engine's page addresses: "#/" (one engine) or "#/e/<id>/". */
export const RouteBase = createContext("#/");

export function useRouteBase(): string {
  return useContext(RouteBase);
}

/** The engine whose pages are shown, when the server has several; null with one. */
export const EngineName = createContext<string | null>(null);

export function useEngineName(): string | null {
  return useContext(EngineName);
}

/** The base of an engine's pages. */
export function engineBase(engine: string): string {
  return `#/e/${encodeURIComponent(engine)}/`;
}

/**
 * The engine of a `#/e/<engine>/<page>` address and the page's address as one engine would
 * have it (`#/<page>`); null for any other address (the overview).
 */
export function parseEngineHash(hash: string): { engine: string; hash: string } | null {
  const m = /^#\/e\/([^/]+)(?:\/(.*))?$/.exec(hash);
  if (!m) return null;
  try {
    return { engine: decodeURIComponent(m[1]!), hash: `#/${m[2] ?? ""}` };
  } catch {
    return null;
  }
}
