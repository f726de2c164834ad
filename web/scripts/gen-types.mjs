#!/usr/bin/env node
// Generate web/src/generated/types.ts from the server's JSON Schema (the pydantic models).
//
//   node scripts/gen-types.mjs           write the file
//   node scripts/gen-types.mjs --check   exit 1 when the file is stale (CI runs this)
//
// The schema is the one GET /api/v1/schema publishes, read without a server through
// `python -m dockstate.schema` (Python: $DOCKSTATE_PYTHON, else ../.venv/bin/python, else
// python3). Each message and entity schema there is self-contained (its own $defs); this script
// hoists them into one document so that json-schema-to-typescript emits every type once.
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync, writeFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { compile } from "json-schema-to-typescript";

const here = dirname(fileURLToPath(import.meta.url));
const web = resolve(here, "..");
const root = resolve(web, "..");
const target = join(web, "src", "generated", "types.ts");
const check = process.argv.includes("--check");

function python() {
  if (process.env.DOCKSTATE_PYTHON) return process.env.DOCKSTATE_PYTHON;
  const venv = join(root, ".venv", "bin", "python");
  return existsSync(venv) ? venv : "python3";
}

function loadSchema() {
  const out = execFileSync(python(), ["-m", "dockstate.schema"], {
    cwd: root,
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  return JSON.parse(out);
}

const clone = (v) => JSON.parse(JSON.stringify(v));
const stable = (v) =>
  JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => (a < b ? -1 : 1)))
      : x,
  );

/** Hoist every model (and its $defs) into one map of definitions, by pydantic title. */
function hoist(published) {
  const defs = {};
  const add = (name, schema) => {
    if (name in defs && stable(defs[name]) !== stable(schema)) {
      throw new Error(`two different schemas are both named ${name}`);
    }
    defs[name] = schema;
  };
  const groups = {};
  for (const group of ["client_messages", "server_messages", "entities", "types", "rest"]) {
    groups[group] = [];
    for (const model of Object.values(published[group] ?? {})) {
      const { $defs = {}, ...own } = clone(model);
      for (const [name, schema] of Object.entries($defs)) add(name, schema);
      add(own.title, own);
      groups[group].push(own.title);
    }
  }
  return { defs, groups };
}

/** Names reachable by $ref from ``names`` (themselves included). */
function reachable(defs, names) {
  const seen = new Set();
  const visit = (name) => {
    if (seen.has(name)) return;
    seen.add(name);
    const walk = (node) => {
      if (Array.isArray(node)) node.forEach(walk);
      else if (node && typeof node === "object") {
        if (typeof node.$ref === "string") visit(node.$ref.split("/").pop());
        Object.values(node).forEach(walk);
      }
    };
    walk(defs[name]);
  };
  names.forEach(visit);
  return seen;
}

/** Property titles ("Rev", "Image Id") would become type aliases of their own: drop them. */
function dropNestedTitles(node, top = true) {
  if (Array.isArray(node)) return node.forEach((n) => dropNestedTitles(n, false));
  if (!node || typeof node !== "object") return;
  if (!top) delete node.title;
  for (const [key, value] of Object.entries(node)) {
    if (key === "properties" && value && typeof value === "object") {
      Object.values(value).forEach((p) => dropNestedTitles(p, false));
    } else if (typeof value === "object") dropNestedTitles(value, false);
  }
}

function prepare(published) {
  const { defs, groups } = hoist(published);
  // The server serializes entities whole (model_dump): every field is on the wire, defaults
  // included, so in the types a client reads every field is present.
  for (const name of reachable(defs, groups.entities)) {
    const def = defs[name];
    if (def.properties) def.required = Object.keys(def.properties);
  }
  // Every server message carries its "type", even though the model gives it a default.
  for (const name of groups.server_messages) {
    const def = defs[name];
    def.required = [...new Set(["type", ...(def.required ?? [])])];
  }
  for (const def of Object.values(defs)) dropNestedTitles(def);
  const union = (title, names, description) => ({
    title,
    description,
    anyOf: names.map((n) => ({ $ref: `#/definitions/${n}` })),
  });
  defs.ClientMessage = union("ClientMessage", groups.client_messages, "Any client message.");
  defs.ServerMessage = union("ServerMessage", groups.server_messages, "Any server message.");
  let text = JSON.stringify(defs).replaceAll('"#/$defs/', '"#/definitions/');
  return {
    title: "DockstateSchema",
    description: `Protocol ${published.protocol}.`,
    type: "object",
    additionalProperties: false,
    properties: Object.fromEntries(
      Object.keys(defs)
        .sort()
        .map((n) => [n, { $ref: `#/definitions/${n}` }]),
    ),
    definitions: JSON.parse(text),
  };
}

async function generate() {
  const published = loadSchema();
  const body = await compile(prepare(published), "DockstateSchema", {
    bannerComment: [
      "/* eslint-disable */",
      "// Generated by web/scripts/gen-types.mjs from the server's JSON Schema",
      "// (python -m dockstate.schema, the pydantic models). Do not edit: run `npm run gen-types`.",
    ].join("\n"),
    additionalProperties: false,
    strictIndexSignatures: false,
    unreachableDefinitions: true,
    format: true,
    style: { printWidth: 100, semi: true, singleQuote: false, trailingComma: "all" },
  });
  return `${body.trimEnd()}\n\nexport const PROTOCOL = ${JSON.stringify(published.protocol)};\n${kinds(published)}`;
}

/**
 * The kinds, read from the schema rather than written again: every kind a change can have
 * (the enum of Change.kind), and for each kind with a map in EngineState the map's name (the
 * property whose values are that kind's entity, e.g. containers: {[id]: Container}).
 */
function kinds(published) {
  const kindsOfChange = published.types?.Change?.properties?.kind?.enum;
  if (!Array.isArray(kindsOfChange) || kindsOfChange.length === 0) {
    throw new Error("the schema's Change has no enum of kinds");
  }
  const byEntity = Object.fromEntries(kindsOfChange.map((k) => [k.toLowerCase(), k]));
  const maps = {};
  for (const [name, prop] of Object.entries(published.types.EngineState.properties)) {
    const ref = prop?.additionalProperties?.$ref;
    if (typeof ref !== "string") continue;
    const kind = byEntity[ref.split("/").pop().toLowerCase()];
    if (!kind) throw new Error(`EngineState.${name} holds ${ref}, which is no kind of Change`);
    maps[kind] = name;
  }
  const objectKinds = kindsOfChange.filter((k) => k in maps);
  const lines = [
    "",
    "/** Every kind of object a change names (the enum of Change.kind). */",
    `export const KINDS = [${kindsOfChange.map((k) => JSON.stringify(k)).join(", ")}] as const;`,
    "export type Kind = (typeof KINDS)[number];",
    "/** The kinds with a map of objects in EngineState, and the name of that map. */",
    "export const MAP_OF_KIND = {",
    ...objectKinds.map((k) => `  ${k}: ${JSON.stringify(maps[k])},`),
    "} as const;",
    "export type ObjectKind = keyof typeof MAP_OF_KIND;",
    "export const OBJECT_KINDS = Object.keys(MAP_OF_KIND) as ObjectKind[];",
    "export type MapName = (typeof MAP_OF_KIND)[ObjectKind];",
    "",
  ];
  return lines.join("\n");
}

const text = await generate();
if (check) {
  const current = existsSync(target) ? readFileSync(target, "utf8") : "";
  if (current !== text) {
    console.error(
      "web/src/generated/types.ts is stale: the server's schema changed. Run `npm run gen-types` in web/.",
    );
    process.exit(1);
  }
  console.log("web/src/generated/types.ts is up to date");
} else {
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, text);
  console.log(`wrote ${target}`);
}
