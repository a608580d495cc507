"""`log.info(...)` and friends: lines in the server's log, tagged with the model's name.
Outside a component (unit tests on the host) they go to stderr. print() output is
captured too, but bounded and less structured."""

import sys

try:  # inside the component: the world's `log` import
    from wit_world.imports import log as _wit_log
except ImportError:  # on the host
    _wit_log = None


class _Log:
    def _emit(self, level, message):
        message = str(message)
        if _wit_log is None:
            print(f"[{level}] {message}", file=sys.stderr)
        else:
            _wit_log.log(getattr(_wit_log.Level, level), message)

    def trace(self, message):
        self._emit("TRACE", message)

    def debug(self, message):
        self._emit("DEBUG", message)

    def info(self, message):
        self._emit("INFO", message)

    def warn(self, message):
        self._emit("WARN", message)

    warning = warn

    def error(self, message):
        self._emit("ERROR", message)


log = _Log()
