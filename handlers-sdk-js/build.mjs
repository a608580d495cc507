// Builds a handler component with componentize-js (the Node API; its CLI is not used):
//   node build.mjs SOURCE.js WIT OUT.wasm [WORLD]
// WIT is a .wit file or a folder of them (with deps/); WORLD defaults to handler-world.
// `ferroserve handler build` passes the folder with wit/handler-js.wit and its world
// handler-world-js, which the SDK's readFile needs (it imports wasi:filesystem).
import { componentize } from '@bytecodealliance/componentize-js';
import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';

const [source, wit, out, world = 'handler-world'] = process.argv.slice(2);
if (!out) {
  console.error('usage: node build.mjs SOURCE.js WIT OUT.wasm [WORLD]');
  process.exit(2);
}
const { component } = await componentize({
  sourcePath: resolve(source),
  witPath: resolve(wit),
  worldName: world,
  // No wasi:http: the sandbox links no network interfaces.
  disableFeatures: ['http', 'fetch-event'],
});
await writeFile(out, component);
console.log(`wrote ${out} (${component.length} bytes)`);
