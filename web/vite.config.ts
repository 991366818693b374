import { defineConfig, type Plugin } from "vite";

// The runtime configuration (API and WebSocket endpoints, sign-in) is a classic script served
// beside index.html and run before the app: never bundled, so one build serves every stage and
// no token is ever part of it. Locally scripts/dev.sh writes it with the dev tokens.
const runtimeConfig: Plugin = {
  name: "burst-runtime-config",
  transformIndexHtml: {
    order: "post",
    handler: () => [{ tag: "script", attrs: { src: "./config.js" }, injectTo: "head" }],
  },
};

// Static files only: index.html + hashed JS/CSS under assets/. /config.js is not part of the
// build: scripts/web.sh (locally) and the deployment (S3) serve it beside index.html.
export default defineConfig({
  base: "./",
  plugins: [runtimeConfig],
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  build: {
    target: "es2022",
    outDir: "dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    reportCompressedSize: true,
  },
  server: { host: "127.0.0.1" },
});
