// Parses an AsyncAPI document with the reference parser and exits non-zero on any error.
// Usage: node scripts/asyncapi/validate.mjs docs/asyncapi.yaml
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const path = process.argv[2];
if (!path) {
  console.error("usage: node validate.mjs <asyncapi document>");
  process.exit(2);
}
const { document, diagnostics } = await new Parser().parse(await readFile(path, "utf8"), {
  source: path,
});
const errors = diagnostics.filter((d) => d.severity === DiagnosticSeverity.Error);
for (const d of diagnostics) {
  const level = d.severity === DiagnosticSeverity.Error ? "error" : "warning";
  console.log(`${level}: ${d.message} at /${d.path.join("/")} (${d.code})`);
}
if (!document || errors.length > 0) {
  console.error(`${path}: ${errors.length} error(s); not a valid AsyncAPI document`);
  process.exit(1);
}
console.log(`${path}: valid AsyncAPI ${document.version()}, ${document.allChannels().length} channels, ${document.allMessages().length} messages`);
