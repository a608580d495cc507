// wasi:filesystem/preopens for the SDK's host-side tests: `$FERROSERVE_FILES` (if set) as
// the one preopened directory `/`, read-only, with the sandbox's rule that a path may not
// leave it. Errors are thrown as componentize-js throws them: an Error whose `payload` is
// the wasi:filesystem error code.
import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { relative, resolve } from 'node:path';

const fail = (code) => Object.assign(new Error(code), { payload: code });
const CODES = { ENOENT: 'no-entry', EACCES: 'access', EISDIR: 'is-directory', ENOTDIR: 'not-directory' };

class Descriptor {
  constructor(root, path) { this.root = root; this.path = path; }
  openAt(_pathFlags, path, _openFlags, _flags) {
    const full = resolve(this.path, path);
    const rel = relative(this.root, full);
    if (rel === '..' || rel.startsWith('../')) throw fail('not-permitted');
    try { statSync(full); } catch (e) { throw fail(CODES[e.code] ?? 'io'); }
    return new Descriptor(this.root, full);
  }
  read(length, offset) {
    let fd;
    try {
      fd = openSync(this.path, 'r');
      const buf = new Uint8Array(Number(length));
      const n = readSync(fd, buf, 0, buf.length, Number(offset));
      return [buf.subarray(0, n), n === 0];
    } catch (e) { throw fail(CODES[e.code] ?? 'io'); } finally { if (fd !== undefined) closeSync(fd); }
  }
}

export function getDirectories() {
  const root = process.env.FERROSERVE_FILES;
  return root ? [[new Descriptor(resolve(root), resolve(root)), '/']] : [];
}
