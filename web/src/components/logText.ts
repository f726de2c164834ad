/**
 * What one log line shows, as pure functions (the Logs view renders them; tests run them):
 *
 * - ANSI colours: ansi_up interprets the escape sequences; its HTML, a fixed grammar of
 *   escaped text in `<span style class>` and `<a href>` (http and https only), is read back
 *   into segments that React renders as text. No log text ever reaches innerHTML (logs are
 *   hostile input), and the page's Content-Security-Policy (`style-src 'self'`) would drop
 *   the style attributes of an innerHTML anyway: React sets the colours through the CSSOM.
 * - JSON lines shown readable: `key=value` on one line, or pretty-printed.
 * - Search: matches marked across segments (a match may span two colours).
 * - Times: Docker's RFC 3339 with nanoseconds as a local time to show.
 */
import { AnsiUp } from "ansi_up";
import type { CSSProperties } from "react";
import { nanos } from "../store/logs";

/** A run of a line's text with one look. */
export interface Segment {
  text: string;
  className?: string;
  style?: CSSProperties;
  /** An OSC 8 hyperlink (http or https). */
  href?: string;
  /** Part of a search match. */
  mark?: boolean;
}

const ESC = "\x1b";
const ENTITIES: Record<string, string> = { "&amp;": "&", "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#x27;": "'" };
const unescape = (html: string) => html.replace(/&(?:amp|lt|gt|quot|#x27);/g, (e) => ENTITIES[e] ?? e);
// ansi_up's output, token by token: a styled span, a link, or plain (escaped) text.
const TOKEN = /<span(?: style="([^"]*)")?(?: class="([^"]*)")?>([^<]*)<\/span>|<a href="([^"]*)">([^<]*)<\/a>|([^<]+)/g;
const RGB = /^rgb\(\d{1,3}, ?\d{1,3}, ?\d{1,3}\)$/;
const CLASSES = /^ansi-(?:bright-)?(?:black|red|green|yellow|blue|magenta|cyan|white)-(?:fg|bg)$/;

/** The only declarations ansi_up writes, as React style properties (anything else is dropped). */
function styleOf(declarations: string): CSSProperties | undefined {
  const style: CSSProperties = {};
  for (const declaration of declarations.split(";")) {
    const [name, value = ""] = declaration.split(":", 2).map((s) => s.trim());
    if (name === "font-weight" && value === "bold") style.fontWeight = "bold";
    else if (name === "opacity" && value === "0.7") style.opacity = 0.7;
    else if (name === "font-style" && value === "italic") style.fontStyle = "italic";
    else if (name === "text-decoration" && value === "underline") style.textDecoration = "underline";
    else if (name === "color" && RGB.test(value)) style.color = value;
    else if (name === "background-color" && RGB.test(value)) style.backgroundColor = value;
  }
  return Object.keys(style).length ? style : undefined;
}

/**
 * The segments of a line's text, its ANSI escape sequences interpreted by ansi_up (colours of
 * the 16-colour palette as `ansi-*` classes, 256 colours and true colour as styles).
 */
export function ansiSegments(text: string): Segment[] {
  if (!text.includes(ESC)) return [{ text }];
  // A converter of its own for every line: ansi_up keeps colours and an unfinished sequence
  // from one call to the next, and a line must not colour (or swallow) the next one.
  const ansi = new AnsiUp();
  ansi.use_classes = true;
  const html = ansi.ansi_to_html(text);
  const out: Segment[] = [];
  for (const m of html.matchAll(TOKEN)) {
    const [, style, classes, spanText, href, linkText, plain] = m;
    if (plain !== undefined) {
      out.push({ text: unescape(plain) });
    } else if (spanText !== undefined) {
      const segment: Segment = { text: unescape(spanText) };
      const className = (classes ?? "").split(" ").filter((c) => CLASSES.test(c)).join(" ");
      if (className) segment.className = className;
      const css = style ? styleOf(style) : undefined;
      if (css) segment.style = css;
      out.push(segment);
    } else if (linkText !== undefined) {
      const url = unescape(href ?? "");
      out.push(/^https?:\/\//i.test(url) ? { text: unescape(linkText), href: url } : { text: unescape(linkText) });
    }
  }
  return out.filter((s) => s.text !== "");
}

/** The text a line shows without its escape sequences (what search looks in). */
export function plainText(segments: readonly Segment[]): string {
  return segments.length === 1 ? segments[0]!.text : segments.map((s) => s.text).join("");
}

// -- JSON ------------------------------------------------------------------------------------

export type JsonMode = "fields" | "pretty" | "raw";

/** The object a JSON line holds, or null (only objects: a bare number or string is text). */
export function jsonObject(text: string): Record<string, unknown> | null {
  const t = text.trim();
  if (t.length < 2 || t[0] !== "{" || t[t.length - 1] !== "}") return null;
  try {
    const value: unknown = JSON.parse(t);
    return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `level=info msg="started server" port=80`: strings quoted when they need it, the rest JSON. */
export function jsonFields(value: Record<string, unknown>): string {
  return Object.entries(value)
    .map(([key, v]) => {
      const text = typeof v === "string" ? (v === "" || /[\s"=]/.test(v) ? JSON.stringify(v) : v) : JSON.stringify(v);
      return `${key}=${text}`;
    })
    .join(" ");
}

/** A line as the view shows it in `mode`: JSON objects rewritten, anything else as it is. */
export function displayText(text: string, mode: JsonMode): { text: string; json: boolean } {
  if (mode === "raw") return { text, json: false };
  const value = jsonObject(text);
  if (!value) return { text, json: false };
  return { text: mode === "pretty" ? JSON.stringify(value, null, 2) : jsonFields(value), json: true };
}

// -- search ----------------------------------------------------------------------------------

/** `segments` with the (case-insensitive) matches of `needle` marked, split where they begin and end. */
export function markMatches(segments: readonly Segment[], needle: string): Segment[] {
  if (!needle) return [...segments];
  const text = plainText(segments).toLowerCase();
  const lower = needle.toLowerCase();
  const ranges: [number, number][] = [];
  for (let i = text.indexOf(lower); i >= 0; i = text.indexOf(lower, i + lower.length)) {
    ranges.push([i, i + lower.length]);
  }
  if (ranges.length === 0) return [...segments];
  const out: Segment[] = [];
  let offset = 0;
  let r = 0;
  for (const segment of segments) {
    const end = offset + segment.text.length;
    let at = offset;
    while (at < end) {
      while (r < ranges.length && ranges[r]![1] <= at) r++;
      const range = ranges[r];
      const inside = range !== undefined && range[0] <= at;
      const stop = range === undefined ? end : Math.min(end, inside ? range[1] : range[0]);
      const piece: Segment = { ...segment, text: segment.text.slice(at - offset, stop - offset) };
      if (inside) piece.mark = true;
      out.push(piece);
      at = stop;
    }
    offset = end;
  }
  return out;
}

// -- times -----------------------------------------------------------------------------------

const pad = (n: number, w = 2) => String(n).padStart(w, "0");

/** "2026-12-02 21:31:17.272", local time (the full time, with nanoseconds, is the row's title). */
export function formatTime(time: string): string {
  const ns = nanos(time);
  if (ns === null) return time;
  const d = new Date(Number(ns / 1_000_000n));
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ` +
    `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.${pad(d.getMilliseconds(), 3)}`
  );
}
