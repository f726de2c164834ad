import { describe, expect, it } from "vitest";
import { ansiSegments, displayText, formatTime, jsonFields, jsonObject, markMatches, plainText, type Segment } from "./logText";

const ESC = "\x1b";

describe("ANSI colours (ansi_up)", () => {
  it("leaves a line without escape sequences as one segment", () => {
    expect(ansiSegments("plain <b>text</b> & more")).toEqual([{ text: "plain <b>text</b> & more" }]);
  });

  it("turns the 16 colours into classes, and bold, 256 colours and true colour into styles", () => {
    const segments = ansiSegments(`${ESC}[31mred${ESC}[0m then ${ESC}[1;92mbold green${ESC}[0m ${ESC}[38;5;208mo${ESC}[38;2;1;2;3mrgb${ESC}[0m`);
    expect(segments).toEqual([
      { text: "red", className: "ansi-red-fg" },
      { text: " then " },
      { text: "bold green", className: "ansi-bright-green-fg", style: { fontWeight: "bold" } },
      { text: " " },
      { text: "o", style: { color: "rgb(255,135,0)" } },
      { text: "rgb", style: { color: "rgb(1,2,3)" } },
    ]);
    expect(plainText(segments)).toBe("red then bold green orgb");
  });

  it("colours one line only: a colour or an unfinished sequence never reaches the next line", () => {
    expect(ansiSegments(`${ESC}[31mred to the end`)).toEqual([{ text: "red to the end", className: "ansi-red-fg" }]);
    expect(ansiSegments("next line")).toEqual([{ text: "next line" }]);
    // An OSC 8 link begun and never ended would swallow every later line of a shared converter.
    ansiSegments(`${ESC}]8;;https://example.com`);
    expect(plainText(ansiSegments(`${ESC}[32mthe line after`))).toBe("the line after");
  });

  it("keeps hostile text as text: markup, entities, quotes", () => {
    const hostile = `<img src=x onerror=alert(1)> "q" 'a' &amp; </span><script>alert(2)</script>`;
    const segments = ansiSegments(`${ESC}[31m${hostile}${ESC}[0m${hostile}`);
    expect(segments).toEqual([{ text: hostile, className: "ansi-red-fg" }, { text: hostile }]);
  });

  it("links http and https only (OSC 8), and nothing else", () => {
    const link = (url: string) => `${ESC}]8;;${url}${ESC}\\click${ESC}]8;;${ESC}\\`;
    expect(ansiSegments(link("https://example.com/a?b=1"))).toEqual([{ text: "click", href: "https://example.com/a?b=1" }]);
    expect(ansiSegments(link("javascript:alert(1)"))).toEqual([]);
    expect(ansiSegments(link('https://x/"onmouseover=alert(1)'))).toEqual([
      { text: "click", href: 'https://x/"onmouseover=alert(1)' },
    ]);
  });
});

describe("JSON lines", () => {
  it("reads objects only", () => {
    expect(jsonObject('{"level":"info","n":3}')).toEqual({ level: "info", n: 3 });
    expect(jsonObject('  {"a":1}  ')).toEqual({ a: 1 });
    expect(jsonObject("[1,2]")).toBeNull();
    expect(jsonObject("42")).toBeNull();
    expect(jsonObject("{not json}")).toBeNull();
    expect(jsonObject("{")).toBeNull();
  });

  it("shows them as key=value, quoted where needed, or pretty", () => {
    const line = '{"level":"info","msg":"started server","port":80,"tags":["a"],"empty":"","eq":"a=b","ok":true}';
    expect(jsonFields(jsonObject(line)!)).toBe('level=info msg="started server" port=80 tags=["a"] empty="" eq="a=b" ok=true');
    expect(displayText(line, "fields")).toEqual({ text: jsonFields(jsonObject(line)!), json: true });
    expect(displayText('{"a":{"b":1}}', "pretty").text).toBe('{\n  "a": {\n    "b": 1\n  }\n}');
    expect(displayText(line, "raw")).toEqual({ text: line, json: false });
    expect(displayText("not json", "pretty")).toEqual({ text: "not json", json: false });
  });

  it("keeps hostile markup in a JSON value as text", () => {
    expect(displayText('{"msg":"<img src=x onerror=alert(1)>"}', "fields").text).toBe('msg="<img src=x onerror=alert(1)>"');
  });
});

describe("search", () => {
  const marked = (segments: Segment[]) => segments.filter((s) => s.mark).map((s) => s.text);

  it("marks every match, case-insensitively", () => {
    const out = markMatches([{ text: "Error: an ERROR occurred" }], "error");
    expect(marked(out)).toEqual(["Error", "ERROR"]);
    expect(plainText(out)).toBe("Error: an ERROR occurred");
  });

  it("marks a match across two colours, keeping each colour", () => {
    const out = markMatches([{ text: "warn", className: "ansi-yellow-fg" }, { text: "ing: disk" }], "warning");
    expect(out).toEqual([
      { text: "warn", className: "ansi-yellow-fg", mark: true },
      { text: "ing", mark: true },
      { text: ": disk" },
    ]);
  });

  it("leaves a line without a match as it is", () => {
    const segments = [{ text: "nothing here" }];
    expect(markMatches(segments, "absent")).toEqual(segments);
    expect(markMatches(segments, "")).toEqual(segments);
  });
});

describe("times", () => {
  it("shows Docker's time in local time, to the millisecond", () => {
    const shown = formatTime("2026-03-04T05:06:07.891234567Z");
    const d = new Date(Date.UTC(2026, 2, 4, 5, 6, 7, 891));
    const pad = (n: number) => String(n).padStart(2, "0");
    expect(shown).toBe(
      `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}.891`,
    );
    expect(formatTime("")).toBe("");
  });
});
