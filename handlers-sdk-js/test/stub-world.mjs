// Node module hooks for the SDK's host-side tests: the world's imports, which only exist
// inside the component, resolve to stubs: `log` records the lines, wasi:filesystem's
// preopens serve `$FERROSERVE_FILES` (stub-preopens.mjs).
export async function resolve(specifier, context, next) {
  if (specifier === 'ferroserve:handler/log@0.2.0') {
    return { url: 'data:text/javascript,export const lines = []; export function log(level, message) { lines.push([level, message]); }', shortCircuit: true };
  }
  if (specifier === 'wasi:filesystem/preopens@0.2.12') {
    return { url: new URL('./stub-preopens.mjs', import.meta.url).href, shortCircuit: true };
  }
  return next(specifier, context);
}
