#!/usr/bin/env python3
"""Writes the starting seeds of fuzz_strokes (tests/fuzz/fuzz_strokes.c) into DIR:
pointer events as that harness decodes them. `make fuzz-long` later minimizes
the seeds with what the fuzzer found, so they need not be rerun; this shows the
format and makes them again:  tests/fuzz/stroke_seeds.py tests/fuzz/seeds/strokes"""
import itertools
import os
import struct
import sys
import zlib

READ_ONE_IN = 4096  # fuzz_strokes.c: the inputs whose CRC-32 is a multiple of this are read by the network

# the low nibble of an opcode byte (fuzz_strokes.c's event_of); the high nibble is its argument
BEGIN_F, ADD_F, BEGIN_I16, ADD_I16, BEGIN_U8, MOVE, RUN = 0, 1, 2, 3, 4, 5, 6
END, UNDO, CLEAR, MULTI, UPDATE, QUERY = 7, 8, 9, 10, 11, 12


def begin(x, y):  # on the canvas: x = 4·bx, y = 1.5·by
    return bytes([BEGIN_U8, round(x / 4), round(y / 1.5)])


def move(dx, dy, quarter=False):
    return bytes([MOVE | (16 if quarter else 0)]) + struct.pack("<bb", dx, dy)


def run(n, dx, dy):  # n moves of (dx, dy)
    return bytes([RUN]) + struct.pack("<Bbb", n - 1, dx, dy)


def op(code, arg=0):
    return bytes([code | arg << 4])


def query(which, v=0):  # which: 0 the feature mosaic of conv layer v - 1, 1 teach input, 2 stroke file, 3 canvas as
    return bytes([QUERY | which << 4, v])  # a picture, 4 ink CRC, 5 state and confidences


def floats(code, x, y):
    return bytes([code]) + struct.pack("<ff", x, y)


def int16s(code, x, y):
    return bytes([code]) + struct.pack("<hh", x, y)


def seven(x):  # the bar to the right, then the stem down and to the left
    return begin(x, 80) + run(20, 8, 0) + run(25, -4, 9) + op(END)


def four(x):  # two strokes: the open angle, then the stem
    return begin(x + 40, 60) + run(15, -4, 8) + run(20, 8, 0) + op(END) + begin(x + 100, 60) + run(30, 0, 8) + op(END)


def zero(x):  # as a touch screen draws it: quarter-pixel moves round an ellipse
    s = begin(x + 80, 60)
    for dx, dy in [(-30, 20), (-20, 40), (0, 50), (20, 40), (30, 20), (30, -20), (20, -40), (0, -50), (-20, -40), (-30, -20)]:
        s += move(dx, dy, quarter=True) * 6
    return s + op(END)


seeds = {
    "seven": seven(160) + op(UPDATE),
    "four": four(160) + op(UPDATE) + query(0, 1) + query(0, 3),
    "zero-touch": zero(160) + query(1),
    "undo": seven(160) + op(UPDATE) + four(160) + op(UNDO) + op(UPDATE) + query(2),
    "clear": four(160) + op(CLEAR) + seven(160),
    # the wide canvas: 7, 4 and 0 side by side, read as a number, and the canvas read as a picture
    "wide": op(MULTI, 1) + seven(80) + four(320) + zero(620) + query(3) + query(4) + query(5),
    # what a pointer should not send: NaN, infinities, huge and negative coordinates, a move with no stroke
    "bad-floats": (move(5, 5) + floats(BEGIN_F, float("nan"), 10) + floats(BEGIN_F, 100, 100) +
                   floats(ADD_F, float("inf"), 5) + floats(ADD_F, 1e30, -1e30) + floats(ADD_F, -3.5, 1e-40) +
                   op(END) + int16s(BEGIN_I16, -32768, 32767) + int16s(ADD_I16, 470, 350) + op(UPDATE)),
}



def read(data):
    """data and END events (whose argument does nothing) until fuzz_strokes reads it"""
    for n in range(1, 5):
        for args in itertools.product(range(16), repeat=n):
            padded = data + bytes(END | a << 4 for a in args)
            if zlib.crc32(padded) % READ_ONE_IN == 0:
                return padded
    raise SystemExit("no padding found")


for name in ["seven", "four", "zero-touch", "undo", "wide", "bad-floats"]:
    seeds[name + "-read"] = read(seeds[name])

os.makedirs(sys.argv[1], exist_ok=True)
for name, data in seeds.items():
    with open(os.path.join(sys.argv[1], name), "wb") as f:
        f.write(data)
