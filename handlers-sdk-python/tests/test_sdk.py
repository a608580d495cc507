"""Host-side tests of the Python SDK's pure parts (tensors, requests, responses, context,
errors); the component side is tested end to end (tests/handler_loop.rs and others).
Run: python -m unittest discover -s handlers-sdk-python/tests"""

import array
import os
import struct
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from ferroserve_handler import BadInput, HandlerFailure, Request, Response, Tensor, json_response, read_json  # noqa: E402
from ferroserve_handler import base, files  # noqa: E402
from ferroserve_handler.http import to_response  # noqa: E402


class TensorTest(unittest.TestCase):
    def test_from_nested_list_infers_the_shape(self):
        t = Tensor.from_list("x", [[1, 2, 3], [4, 5, 6]])
        self.assertEqual((t.dtype, t.shape), ("f32", [2, 3]))
        self.assertEqual(t.data, struct.pack("<6f", 1, 2, 3, 4, 5, 6))
        self.assertEqual(t.tolist(), [[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])

    def test_every_dtype_round_trips(self):
        for dtype, values in [("f32", [1.5, -2]), ("f64", [0.1]), ("i64", [-(2**40), 7]),
                              ("i32", [-3, 4]), ("i8", [-128, 127]), ("u8", [0, 255]),
                              ("bool", [True, False]), ("f16", [0.5, -2.0]), ("bf16", [1.0, -3.0])]:
            t = Tensor.from_list("x", values, dtype=dtype)
            self.assertEqual(t.flat(), values, dtype)

    def test_bf16_rounds_to_nearest_even(self):
        # 1 + 2^-8 lies halfway between two bf16 values: rounds to the even one, 1.0.
        self.assertEqual(Tensor.from_list("x", [1 + 2**-8], dtype="bf16").flat(), [1.0])

    def test_arrays_memoryviews_and_bytes(self):
        a = array.array("f", [1, 2, 3, 4])
        t = Tensor.from_array("x", a, shape=[2, 2])
        self.assertEqual(t.shape, [2, 2])
        self.assertEqual(list(t.memoryview()), [1, 2, 3, 4])
        self.assertEqual(t.array().tolist(), [1, 2, 3, 4])
        self.assertEqual(Tensor.from_array("y", memoryview(array.array("q", [9]))).dtype, "i64")
        self.assertEqual(Tensor.from_bytes("z", "u8", [2], b"\x01\x02").flat(), [1, 2])

    def test_a_wrong_byte_count_or_dtype_says_so(self):
        with self.assertRaisesRegex(ValueError, "needs 16 bytes, got 3"):
            Tensor("x", "f32", [4], b"abc")
        with self.assertRaisesRegex(ValueError, "unknown dtype"):
            Tensor.from_list("x", [1], dtype="complex64")
        with self.assertRaisesRegex(ValueError, "ragged"):
            Tensor.from_list("x", [[1, 2], [3]])
        self.assertEqual(Tensor.from_list("x", [1], dtype="float32").dtype, "f32")


class RequestResponseTest(unittest.TestCase):
    def test_lookups(self):
        r = Request(b'{"a": 1}', "Application/JSON; charset=utf-8", [("x-trace", "t")],
                    [("k", "archive"), ("k", "query")])
        self.assertEqual(r.media_type, "application/json")
        self.assertEqual(r.header("X-Trace"), "t")
        self.assertEqual(r.param("k"), "query")
        self.assertEqual(r.json(), {"a": 1})
        self.assertIsNone(r.field("image"))

    def test_bad_json_is_bad_input(self):
        with self.assertRaisesRegex(BadInput, "not the JSON"):
            Request(b"[1,").json()

    def test_what_postprocess_may_return(self):
        self.assertEqual(to_response({"a": [1]}).body, b'{"a":[1]}')
        self.assertEqual(to_response("hi").content_type, "text/plain; charset=utf-8")
        self.assertEqual(to_response(b"\x00").content_type, "application/octet-stream")
        r = json_response([], status=201, headers={"x-a": "1"})
        self.assertEqual((r.status, r.headers), (201, [("x-a", "1")]))
        self.assertIsInstance(to_response(r), Response)


class GlueTest(unittest.TestCase):
    def test_context_comes_back_as_given(self):
        for c in [None, b"raw", {"n": 3}, [1, "a"]]:
            self.assertEqual(base.decode_context(base.encode_context(c)), c)

    def test_preprocess_results(self):
        t = Tensor.from_list("x", [1.0])
        self.assertEqual(base.split_prepared(t), ([t], None))
        self.assertEqual(base.split_prepared(([t, t], {"k": 1})), ([t, t], {"k": 1}))
        with self.assertRaisesRegex(HandlerFailure, "must return Tensors"):
            base.split_prepared([1, 2])

    def test_failures(self):
        self.assertEqual(base.failure(BadInput("fix it")), (True, "fix it"))
        self.assertEqual(base.failure(KeyError("k")), (False, "KeyError: 'k'"))

    def test_archive_files(self):
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "labels.json"), "w") as f:
                f.write('{"0": "cat"}')
            files.ROOT = d
            self.assertEqual(read_json("/labels.json"), {"0": "cat"})
            with self.assertRaisesRegex(HandlerFailure, "--extra-files missing.txt"):
                files.read_file("missing.txt")


if __name__ == "__main__":
    unittest.main()
