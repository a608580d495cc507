// The archive's extra files for JavaScript handlers, read-only under `/`, with the
// semantics of the Python SDK's read_file/read_text/read_json:
//
//   import { readJson } from './ferroserve-files.js';
//   class H extends BaseHandler { initialize() { this.labels = readJson('labels.json'); } ... }
//
// A module of its own because it imports wasi:filesystem: `ferroserve handler build` builds
// a project that imports this file against handler-world-js (the handler world plus
// wasi:filesystem's preopens and types; wit/handler-js.wit), any other against the plain
// handler world, whose components are smaller and start faster (docs/benchmarks.md).

import { HandlerFailure } from './ferroserve-handler.js';
// The archive's extra files, preopened read-only at `/` by the sandbox.
import { getDirectories } from 'wasi:filesystem/preopens@0.2.12';

// wasi:filesystem error codes, worded as the POSIX errors Python's read_file reports.
const FS_ERRORS = {
  access: 'Permission denied', 'not-permitted': 'Operation not permitted', 'no-entry': 'No such file or directory',
  'is-directory': 'Is a directory', 'not-directory': 'Not a directory', loop: 'Too many levels of symbolic links',
  'name-too-long': 'File name too long', invalid: 'Invalid argument', 'bad-descriptor': 'Bad file descriptor',
  'insufficient-memory': 'Cannot allocate memory', io: 'Input/output error',
};

function cannotRead(name, why) {
  return new HandlerFailure(`cannot read the archive file ${JSON.stringify(name)} (${why}); ship it with \`ferroserve archive --extra-files ${name}\``);
}

/** The bytes (Uint8Array) of an archive file, e.g. `readFile('labels.txt')` (a leading `/`
 * is the same file). Only the archive's files are there: a path out of them fails. Read
 * files in `initialize` or later, not at the top level (that runs at build time). */
export function readFile(name) {
  const dirs = getDirectories();
  const root = (dirs.find(([, path]) => path === '/') ?? dirs[0])?.[0];
  if (!root) throw cannotRead(name, 'the archive has no extra files');
  let file;
  try {
    file = root.openAt({ symlinkFollow: true }, String(name).replace(/^\/+/, '') || '.', {}, { read: true });
    const chunks = [];
    let offset = 0n;
    for (;;) {
      const [data, end] = file.read(1n << 20n, offset);
      if (data.length > 0) chunks.push(data);
      offset += BigInt(data.length);
      if (end || data.length === 0) break;
    }
    const out = new Uint8Array(Number(offset));
    let at = 0;
    for (const c of chunks) { out.set(c, at); at += c.length; }
    return out;
  } catch (e) {
    if (e instanceof HandlerFailure) throw e;
    const code = e?.payload ?? e?.message ?? String(e);
    throw cannotRead(name, FS_ERRORS[code] ?? code);
  } finally {
    if (file && typeof Symbol.dispose === 'symbol') file[Symbol.dispose]?.();
  }
}

/** An archive file decoded as text (UTF-8 unless `encoding` names another). */
export const readText = (name, encoding = 'utf-8') => new TextDecoder(encoding).decode(readFile(name));
/** An archive file parsed as JSON. */
export const readJson = (name) => JSON.parse(readText(name));

