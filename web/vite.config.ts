/// <reference types="vitest/config" />
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";
import { fileURLToPath } from "node:url";

// The build goes into the Python package, which serves it at / (dockstate.server._ui).
const outDir = fileURLToPath(new URL("../src/dockstate/web_dist", import.meta.url));
// `npm run dev`: a dockstate server to proxy the API to (sign in there first; the session
// cookie is per host, so open the dev server on the same host name).
const api = process.env.DOCKSTATE_URL ?? "http://127.0.0.1:8765";

export default defineConfig({
  plugins: [react()],
  base: "/",
  build: {
    outDir,
    emptyOutDir: true,
    sourcemap: false,
    chunkSizeWarningLimit: 800,
    // No inline scripts or styles: the server's Content-Security-Policy forbids them.
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
  },
  server: {
    proxy: {
      "/api": { target: api, ws: true, changeOrigin: false },
    },
  },
  test: {
    include: ["src/**/*.test.{ts,tsx}"],
    environment: "node",
    restoreMocks: true,
    // The 1000-row table tests take 1-3 s alone and up to 14 s on a machine busy with other
    // work; vitest's 5 s default made them fail there for no fault of theirs.
    testTimeout: 30_000,
  },
});
