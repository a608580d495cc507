// Builds a handler component with componentize-js (the Node API; its CLI is not used):
//   node build.mjs SOURCE.js WIT_FILE OUT.wasm
// `ferroserve handler build` runs this with NODE_PATH at the componentize-js install.
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

const [source, wit, out] = process.argv.slice(2);
if (!out) {
  console.error('usage: node build.mjs SOURCE.js WIT_FILE OUT.wasm');
  process.exit(2);
}
const { component } = await componentize({
  sourcePath: resolve(source),
  witPath: resolve(wit),
  worldName: 'handler-world',
  // No wasi:http: the sandbox links no network interfaces.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(out, component);
console.log(`wrote ${out} (${component.length} bytes)`);
