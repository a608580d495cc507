// Validates one object (JSON, argv[3]) against the kubernetes-models validator for its
// kind, from the npm prefix argv[2] (scripts/npm-validators.sh). Prints each problem;
// exit 0 valid, 1 invalid, 2 no validator for the kind.
import path from "node:path";

const [prefix, json] = process.argv.slice(2);
const doc = JSON.parse(json);
const groups = { "monitoring.coreos.com": "prometheus-operator" };
const [group, version] = doc.apiVersion.split("/");
const pkg = groups[group];
if (!pkg) {
  console.log(`${doc.apiVersion} ${doc.kind} has no validator`);
  process.exit(2);
}
const file = path.join(prefix, "node_modules/@kubernetes-models", pkg, `${group}/${version}/${doc.kind}.js`);
let model;
try {
  model = (await import(file))[doc.kind];
} catch {
  console.log(`${doc.apiVersion} ${doc.kind} has no validator`);
  process.exit(2);
}
try {
  new model(doc).validate();
} catch (e) {
  for (const err of e.errors ?? [e]) {
    console.log(`${err.instancePath || "(top)"} ${err.message}`);
  }
  process.exit(1);
}
