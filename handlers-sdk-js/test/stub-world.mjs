// Node module hooks for the SDK's host-side tests: the world's `log` import, which only
// exists inside the component, resolves to a stub that records the lines.
export async function resolve(specifier, context, next) {
  if (specifier === 'ferroserve:handler/log@0.2.0') {
    return { url: 'data:text/javascript,export const lines = []; export function log(level, message) { lines.push([level, message]); }', shortCircuit: true };
  }
  return next(specifier, context);
}
