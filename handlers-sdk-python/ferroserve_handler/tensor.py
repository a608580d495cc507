"""Tensors as they cross into and out of the handler: a name, a dtype, a shape and
little-endian, row-major bytes. Built from (nested) lists, `array.array`, `memoryview` or
bytes, and read back the same ways. No numpy: it is not in the component's Python."""

import array
import struct

# dtype -> (bytes per element, array/struct typecode or None when neither has one)
_DTYPES = {
    "f32": (4, "f"),
    "f16": (2, "e"),
    "bf16": (2, None),
    "f64": (8, "d"),
    "i64": (8, "q"),
    "i32": (4, "i"),
    "i8": (1, "b"),
    "u8": (1, "B"),
    "bool": (1, "B"),
}
_ALIASES = {
    "float32": "f32", "float": "f32", "float16": "f16", "half": "f16", "bfloat16": "bf16",
    "float64": "f64", "double": "f64", "int64": "i64", "long": "i64", "int32": "i32",
    "int": "i32", "int8": "i8", "uint8": "u8", "boolean": "bool",
}
# array.array typecodes -> dtype (for from_array / memoryview)
_FROM_TYPECODE = {"f": "f32", "d": "f64", "q": "i64", "l": "i64", "i": "i32", "b": "i8", "B": "u8", "e": "f16"}

DTYPES = tuple(_DTYPES)


def dtype_name(dtype):
    """The canonical dtype name (`f32`, ...) for a name or alias; ValueError otherwise."""
    d = _ALIASES.get(dtype, dtype)
    if d not in _DTYPES:
        raise ValueError(f"unknown dtype {dtype!r}; use one of {', '.join(DTYPES)}")
    return d


def _numel(shape):
    n = 1
    for d in shape:
        n *= d
    return n


def _infer_shape(values):
    shape = []
    v = values
    while isinstance(v, (list, tuple)):
        shape.append(len(v))
        if not v:
            break
        v = v[0]
    return shape


def _flatten(values, shape, depth=0, out=None):
    if out is None:
        out = []
    if depth == len(shape):
        out.append(values)
        return out
    if not isinstance(values, (list, tuple)) or len(values) != shape[depth]:
        raise ValueError(f"ragged nested list: expected {shape[depth]} items at depth {depth}")
    for v in values:
        _flatten(v, shape, depth + 1, out)
    return out


def _pack(dtype, flat):
    size, code = _DTYPES[dtype]
    if dtype == "bool":
        return bytes(1 if v else 0 for v in flat)
    if dtype == "bf16":
        out = bytearray()
        for v in flat:
            bits = struct.unpack("<I", struct.pack("<f", v))[0]
            bits += 0x7FFF + ((bits >> 16) & 1)  # round to nearest even
            out += struct.pack("<H", (bits >> 16) & 0xFFFF)
        return bytes(out)
    if code == "e":
        return struct.pack(f"<{len(flat)}e", *flat)
    return array.array(code, flat).tobytes()


def _unpack(dtype, data):
    size, code = _DTYPES[dtype]
    n = len(data) // size
    if dtype == "bool":
        return [b != 0 for b in data]
    if dtype == "bf16":
        return [struct.unpack("<f", struct.pack("<I", h << 16))[0]
                for h in struct.unpack(f"<{n}H", data)]
    if code == "e":
        return list(struct.unpack(f"<{n}e", data))
    a = array.array(code)
    a.frombytes(bytes(data))
    return a.tolist()


def _nest(flat, shape):
    if not shape:
        return flat[0]
    if len(shape) == 1:
        return flat
    step = _numel(shape[1:])
    return [_nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


class Tensor:
    """A named, dense, row-major tensor. `data` holds exactly numel x itemsize bytes."""

    __slots__ = ("name", "dtype", "shape", "data")

    def __init__(self, name, dtype, shape, data):
        self.name = name
        self.dtype = dtype_name(dtype)
        self.shape = [int(d) for d in shape]
        self.data = bytes(data)
        need = _numel(self.shape) * _DTYPES[self.dtype][0]
        if len(self.data) != need:
            raise ValueError(
                f"tensor {name!r}: shape {self.shape} of {self.dtype} needs {need} bytes, got {len(self.data)}")

    @classmethod
    def from_list(cls, name, values, dtype="f32", shape=None):
        """From a number or (nested) list; the shape is the nesting's unless given."""
        dtype = dtype_name(dtype)
        if shape is None:
            shape = _infer_shape(values)
            flat = _flatten(values, shape)
        else:
            flat = list(values) if isinstance(values, (list, tuple)) else [values]
            if flat and isinstance(flat[0], (list, tuple)):
                flat = _flatten(values, _infer_shape(values))
        return cls(name, dtype, shape, _pack(dtype, flat))

    @classmethod
    def from_array(cls, name, values, shape=None):
        """From an `array.array` or a typed `memoryview` (f, d, q, i, b, B, e); 1-D unless
        `shape` says otherwise."""
        view = memoryview(values)
        code = view.format.lstrip("<@=")
        dtype = _FROM_TYPECODE.get(code)
        if dtype is None or view.itemsize != _DTYPES[dtype][0]:
            raise ValueError(f"unsupported array typecode {view.format!r}")
        data = view.tobytes()
        n = len(data) // view.itemsize
        return cls(name, dtype, [n] if shape is None else shape, data)

    @classmethod
    def from_bytes(cls, name, dtype, shape, data):
        """From raw little-endian bytes (`bytes`, `bytearray`, `memoryview`)."""
        return cls(name, dtype, shape, data)

    @property
    def numel(self):
        return _numel(self.shape)

    def flat(self):
        """All elements, row-major, as a flat Python list."""
        return _unpack(self.dtype, self.data)

    def tolist(self):
        """The elements nested by shape (a scalar for an empty shape)."""
        return _nest(self.flat(), self.shape)

    def array(self):
        """The elements as an `array.array` (not for f16/bf16/bool)."""
        code = _DTYPES[self.dtype][1]
        if self.dtype in ("f16", "bf16", "bool") or code is None:
            raise ValueError(f"no array.array typecode for {self.dtype}; use flat()")
        a = array.array(code)
        a.frombytes(self.data)
        return a

    def memoryview(self):
        """A read-only view typed by dtype (bytes for f16/bf16/bool)."""
        code = _DTYPES[self.dtype][1]
        view = memoryview(self.data)
        if self.dtype in ("bf16", "bool") or code is None:
            return view
        return view.cast(code)

    def __repr__(self):
        return f"Tensor({self.name!r}, {self.dtype}, {self.shape})"
