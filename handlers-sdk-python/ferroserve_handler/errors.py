"""The two failures a handler reports on purpose."""


class BadInput(Exception):
    """The client's input is wrong (HTTP 400); the message tells the client what to send."""


class HandlerFailure(Exception):
    """The handler itself failed (HTTP 500). Any other exception is reported the same way,
    as `TypeName: message`."""
