// Builds the panel: generate TypeScript from ../../protos with buf and the local
// protoc-gen-es, type-check it, and bundle it with esbuild into static/panel.js.
//
//   npm ci && npm run build                     (from chatsvc/web)
//   node build.mjs --outfile /tmp/panel.js       (build elsewhere, e.g. to compare)
import { spawnSync } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import * as esbuild from "esbuild";

const here = dirname(fileURLToPath(import.meta.url));
const { values } = parseArgs({ options: { outfile: { type: "string", default: join(here, "static", "panel.js") } } });

function run(command, ...args) {
  const result = spawnSync(join(here, "node_modules", ".bin", command), args, { cwd: here, stdio: "inherit" });
  if (result.status !== 0) {
    console.error(`${command} ${args.join(" ")} failed (${result.error ?? `exit ${result.status}`})`);
    process.exit(1);
  }
}

run("buf", "generate", join("..", "..", "protos"), "--template", "buf.gen.yaml");
run("tsc", "--noEmit", "-p", "tsconfig.json");
await esbuild.build({
  entryPoints: [join(here, "src", "panel.ts")],
  outfile: values.outfile,
  bundle: true,
  format: "iife",
  target: ["es2022"],
  minify: true,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
console.log(`built ${values.outfile}`);
