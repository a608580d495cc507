"""One request in, one response out, in plain Python types."""

import json


class Field:
    """One field of a multipart form."""

    __slots__ = ("name", "filename", "content_type", "data")

    def __init__(self, name, data, filename=None, content_type=None):
        self.name = name
        self.data = bytes(data)
        self.filename = filename
        self.content_type = content_type

    def text(self, encoding="utf-8"):
        return self.data.decode(encoding)

    def __repr__(self):
        return f"Field({self.name!r}, {len(self.data)} bytes)"


class Request:
    """A client request: `body` (bytes), `content_type`, `headers` (lower-case names, no
    credentials), `parameters` (the archive's handler-params, then the query string:
    later wins) and `fields` (every multipart form field; `body` is the `data` one)."""

    __slots__ = ("body", "content_type", "headers", "parameters", "fields")

    def __init__(self, body=b"", content_type=None, headers=(), parameters=(), fields=()):
        self.body = bytes(body)
        self.content_type = content_type
        self.headers = list(headers)
        self.parameters = list(parameters)
        self.fields = list(fields)

    @property
    def media_type(self):
        """The content type without parameters, lower-cased (`image/png`), or None."""
        if self.content_type is None:
            return None
        return self.content_type.split(";")[0].strip().lower()

    def header(self, name, default=None):
        name = name.lower()
        for k, v in self.headers:
            if k == name:
                return v
        return default

    def param(self, name, default=None):
        """A parameter; the query string's wins over the archive's."""
        found = default
        for k, v in self.parameters:
            if k == name:
                found = v
        return found

    def field(self, name):
        """The first form field called `name`, or None."""
        for f in self.fields:
            if f.name == name:
                return f
        return None

    def text(self, encoding="utf-8"):
        try:
            return self.body.decode(encoding)
        except UnicodeDecodeError as e:
            from .errors import BadInput
            raise BadInput(f"the body is not {encoding} text: {e}") from None

    def json(self):
        """The body parsed as JSON; a BadInput that says why when it is not."""
        try:
            return json.loads(self.body)
        except ValueError as e:
            from .errors import BadInput
            raise BadInput(f"the request body is not the JSON this model expects: {e}") from None


class Response:
    """A response: body bytes, content type, status (200..599) and extra headers
    (framing, cookie and server headers are refused by the host)."""

    __slots__ = ("body", "content_type", "status", "headers")

    def __init__(self, body, content_type="application/octet-stream", status=200, headers=()):
        self.body = body.encode() if isinstance(body, str) else bytes(body)
        self.content_type = content_type
        self.status = int(status)
        self.headers = list(headers.items()) if isinstance(headers, dict) else list(headers)


def json_response(value, status=200, headers=()):
    """`value` as compact JSON (`application/json`)."""
    body = json.dumps(value, separators=(",", ":"), allow_nan=False)
    return Response(body, "application/json", status, headers)


def text_response(text, status=200, headers=()):
    return Response(text, "text/plain; charset=utf-8", status, headers)


def to_response(value):
    """What postprocess may return: a Response, bytes, str, or anything JSON can hold."""
    if isinstance(value, Response):
        return value
    if isinstance(value, (bytes, bytearray, memoryview)):
        return Response(bytes(value))
    if isinstance(value, str):
        return text_response(value)
    return json_response(value)
