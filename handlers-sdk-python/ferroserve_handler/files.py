"""The archive's extra files, read-only under `/` (labels, vocabularies). Read them in
`initialize` or when needed: they are not there at build time, so module-level reads
would fail the build."""

import json
import os

# Where the archive's files appear inside the sandbox; `FERROSERVE_FILES` is for unit
# tests on the host (the sandbox passes no environment).
ROOT = os.environ.get("FERROSERVE_FILES", "/")


def _path(name):
    return os.path.join(ROOT, name.lstrip("/"))


def read_file(name):
    """The bytes of an archive file, e.g. `read_file("labels.txt")`."""
    try:
        with open(_path(name), "rb") as f:
            return f.read()
    except OSError as e:
        from .errors import HandlerFailure
        raise HandlerFailure(
            f"cannot read the archive file {name!r} ({e.strerror}); ship it with "
            f"`ferroserve archive --extra-files {name}`") from None


def read_text(name, encoding="utf-8"):
    return read_file(name).decode(encoding)


def read_json(name):
    return json.loads(read_file(name))
