#!/usr/bin/env python3
"""scripts/wasm-relax on hand-made modules: only real opcodes are rewritten (never immediates or
data holding the same bytes), both outputs come out right, a second run gives the same files,
and a body that does not decode to its size is refused.

    python3 tests/web/wasm_relax_test.py SOURCE_DIR
"""
import os
import subprocess
import sys
import tempfile
import unittest

SCRIPT = os.path.join(sys.argv[1] if len(sys.argv) > 1 else ".", "scripts", "wasm-relax")


def leb(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def module(body):
    """One function () -> v128 with two v128 locals, `body` its code (without the end)."""
    code = b"\x01\x02\x7b" + body + b"\x0b"
    func = leb(len(code)) + code
    sections = [
        (1, b"\x01\x60\x00\x01\x7b"),  # type () -> v128
        (3, b"\x01\x00"),
        (5, b"\x01\x00\x01"),  # a memory
        (10, b"\x01" + func),
        (11, b"\x01\x00\x41\x00\x0b" + leb(6) + b"\xfd\x82\x01\xfd\xaf\x01"),  # data: lookalikes
    ]
    out = b"\0asm\1\0\0\0"
    for sid, payload in sections:
        out += bytes([sid]) + leb(len(payload)) + payload
    return out


GET = b"\x20\x00\x20\x01"  # local.get 0, local.get 1
DOT = GET + b"\xfd\x82\x01" + b"\x1a"  # placeholder i16x8.q15mulr_sat_s, drop
DOT_ADD = GET + b"\x20\x00" + b"\xfd\xaf\x01" + b"\x1a"  # placeholder f32x4.fma, drop
# Immediates that hold the placeholders' bytes: v128.const and i8x16.shuffle (16 bytes each),
# an i64.const whose LEB contains fd 82 01, a load with such an offset, br_table, a lane index.
CONST = b"\xfd\x0c" + b"\xfd\x82\x01\xfd\xaf\x01" + bytes(10) + b"\x1a"
SHUFFLE = GET + b"\xfd\x0d" + b"\xfd\xaf\x01" + bytes(13) + b"\x1a"
I64 = b"\x42\xfd\x82\x01" + b"\x1a"
LOAD = b"\x41\x00\xfd\x00\x00\xfd\x82\x01" + b"\x1a"  # v128.load align=0 offset=0x4169 (fd 82 01)
BLOCKS = b"\x02\x40\x41\x00\x0e\x01\x00\x00\x0b"  # block { br_table 0 0 }
LANE = GET + b"\xfd\x15\x03" + b"\x1a"  # i8x16.extract_lane_s 3
ATOMIC = b"\x41\x00\xfe\x10\x02\x00" + b"\x1a"  # i32.atomic.load
TAIL = b"\x20\x00"  # the result


def run(path):
    return subprocess.run([sys.executable, SCRIPT, path], capture_output=True, text=True)


class WasmRelaxTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.path = os.path.join(self.dir.name, "m.wasm")
        self.relaxed = os.path.join(self.dir.name, "m.relaxed.wasm")

    def tearDown(self):
        self.dir.cleanup()

    def write(self, data):
        with open(self.path, "wb") as f:
            f.write(data)

    def read(self, path):
        with open(path, "rb") as f:
            return f.read()

    def test_rewrites_opcodes_only(self):
        body = CONST + DOT + SHUFFLE + I64 + DOT_ADD + LOAD + BLOCKS + LANE + ATOMIC + DOT + TAIL
        self.write(module(body))
        r = run(self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("2 dot and 1 dot-add", r.stdout)
        relaxed_body = body.replace(GET + b"\xfd\x82\x01\x1a", GET + b"\xfd\x92\x02\x1a")
        relaxed_body = relaxed_body.replace(DOT_ADD, GET + b"\x20\x00\xfd\x93\x02\x1a")
        self.assertEqual(self.read(self.relaxed), module(relaxed_body))
        plain_body = body.replace(DOT_ADD, GET + b"\x20\x00\xfd\xd2\x00\x1a")
        self.assertEqual(self.read(self.path), module(plain_body))

    def test_a_second_run_gives_the_same_files(self):
        self.write(module(DOT + DOT_ADD + TAIL))
        self.assertEqual(run(self.path).returncode, 0)
        first = (self.read(self.path), self.read(self.relaxed))
        r = run(self.path)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual((self.read(self.path), self.read(self.relaxed)), first)

    def test_refuses_a_module_without_placeholders(self):
        self.write(module(CONST + TAIL))
        r = run(self.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("no relaxed dot placeholders", r.stderr)
        self.assertFalse(os.path.exists(self.relaxed))

    def test_refuses_a_body_that_overruns_its_size(self):
        data = bytearray(module(DOT + TAIL))
        # Cut the v128.const-like tail: make the last instruction claim an immediate past the end.
        at = data.rindex(b"\x20\x00\x0b")
        data[at:at + 3] = b"\x41\x80\x0b"  # i32.const whose LEB swallows the end
        self.write(bytes(data))
        r = run(self.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("function body does not end where its size says", r.stderr)

    def test_refuses_what_is_not_wasm(self):
        self.write(b"not wasm at all")
        r = run(self.path)
        self.assertEqual(r.returncode, 1)
        self.assertIn("not a WebAssembly 1.0 module", r.stderr)


if __name__ == "__main__":
    unittest.main(argv=sys.argv[:1], verbosity=2)
