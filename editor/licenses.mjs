// Print the licence of every package the editor is built from (every package of the lock
// file but the build tools), and fail on any licence that is not a permissive one: the
// bundle is served with the app, whatever the app's own licence.
import { readFileSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";

const PERMISSIVE = new Set(["MIT", "ISC", "BSD-2-Clause", "BSD-3-Clause", "Apache-2.0", "0BSD"]);
const lockPath = process.argv[2];
const root = dirname(lockPath);
const lock = JSON.parse(readFileSync(lockPath, "utf8"));

const refused = [];
const sections = [];
for (const [path, entry] of Object.entries(lock.packages).sort()) {
  if (!path || entry.dev) continue;
  const name = path.replace(/^.*node_modules\//, "");
  const folder = join(root, path);
  const manifest = JSON.parse(readFileSync(join(folder, "package.json"), "utf8"));
  const licence = manifest.license || entry.license || "UNKNOWN";
  if (!PERMISSIVE.has(licence)) refused.push(`${name}: ${licence}`);
  const file = readdirSync(folder).find((item) => /^(licen[cs]e|copying)(\.|$)/i.test(item));
  const text = file ? readFileSync(join(folder, file), "utf8").trim() : `${licence} (no licence file in the package)`;
  sections.push(`${name} ${manifest.version} (${licence})\n\n${text}\n`);
}

if (refused.length) {
  console.error("Packages whose licence is not permissive:\n  " + refused.join("\n  "));
  process.exit(1);
}
process.stdout.write(sections.join("\n" + "-".repeat(72) + "\n\n"));
