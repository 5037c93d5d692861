"""Framing: arrays travel as declared dtype/shape/bytes; anything malformed is refused."""

from __future__ import annotations

import json
import os
import struct
import time

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from grader.protocol.wire import (
    MAX_HEADER_DEPTH,
    Deadline,
    MalformedHeader,
    PeerClosed,
    ProtocolError,
    encode_frame,
    nesting_depth,
    read_frame,
    write_frame,
)

DTYPES = st.sampled_from([np.float64, np.float32, np.int64, np.int32, np.uint8, np.bool_])


def _pipe_with(data: bytes) -> int:
    r, w = os.pipe()
    os.write(w, data)
    os.close(w)
    return r


@given(hnp.arrays(DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, max_side=5)))
def test_arrays_round_trip_exactly(arr):
    r = _pipe_with(encode_frame({"op": "x"}, [arr, arr.T]))
    header, arrays = read_frame(r, None, 1 << 20)
    os.close(r)
    assert header["op"] == "x"
    for got, want in zip(arrays, [arr, arr.T]):
        assert type(got) is np.ndarray and got.dtype == want.dtype and got.shape == want.shape
        assert got.tobytes() == np.ascontiguousarray(want).tobytes()


def _raw(header: dict, payload: bytes = b"") -> bytes:
    head = json.dumps(header).encode()
    return struct.pack(">I", len(head)) + head + payload


@pytest.mark.parametrize(
    "blob",
    [
        {"dtype": "|O", "shape": [1]},  # object arrays
        {"dtype": "|V8", "shape": [1]},  # structured/void
        {"dtype": "<U4", "shape": [1]},  # strings
        {"dtype": ">f8", "shape": [1]},  # foreign byte order is not in the allowlist
        {"dtype": "<f8", "shape": [-1]},
        {"dtype": "<f8", "shape": [1.5]},
        {"dtype": "<f8", "shape": [1] * 9},
        {"dtype": "<f8", "shape": [1], "extra": 1},
    ],
)
def test_malformed_descriptors_are_refused(blob):
    r = _pipe_with(_raw({"blobs": [blob]}, b"\0" * 64))
    with pytest.raises(ProtocolError):
        read_frame(r, None, 1 << 20)
    os.close(r)


def test_short_payload_is_peer_closed_not_garbage():
    r = _pipe_with(_raw({"blobs": [{"dtype": "<f8", "shape": [4]}]}, b"\0" * 8))
    with pytest.raises(PeerClosed):
        read_frame(r, None, 1 << 20)
    os.close(r)


def test_size_limits():
    r = _pipe_with(_raw({"blobs": [{"dtype": "<f8", "shape": [1000, 1000]}]}))
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        read_frame(r, None, 1 << 20)
    os.close(r)
    r = _pipe_with(struct.pack(">I", 1 << 30))
    with pytest.raises(ProtocolError, match="header"):
        read_frame(r, None, 1 << 20)
    os.close(r)


def test_non_json_header():
    r = _pipe_with(struct.pack(">I", 3) + b"\xff\xfe{")
    with pytest.raises(ProtocolError, match="not JSON"):
        read_frame(r, None, 1 << 20)
    os.close(r)


def test_deadline_on_a_silent_peer():
    r, w = os.pipe()
    started = time.monotonic()
    with pytest.raises(Deadline):
        read_frame(r, time.monotonic() + 0.2, 1 << 20)
    assert time.monotonic() - started < 2
    os.close(r)
    os.close(w)


def test_write_frame_large_payload_through_a_pipe():
    arr = np.arange(300_000, dtype=np.float64)  # larger than a pipe buffer
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        write_frame(w, {"op": "big"}, [arr])
        os._exit(0)
    os.close(w)
    header, (got,) = read_frame(r, time.monotonic() + 10, 1 << 30)
    os.waitpid(pid, 0)
    os.close(r)
    assert header["op"] == "big" and np.array_equal(got, arr)


def test_write_frame_more_arrays_than_one_writev_takes_and_unaligned_offsets():
    """More buffers than IOV_MAX, partial writes through a pipe, and arrays whose offsets in the
    frame are not multiples of their itemsize (a 3-byte bool array first): each arrives equal,
    aligned and writable, none sharing memory with another."""
    from grader.protocol.wire import IOV_MAX

    rng = np.random.default_rng(0)
    arrays = [np.array([True, False, True])]
    arrays += [rng.standard_normal(int(rng.integers(1, 400))) for _ in range(IOV_MAX + 40)]
    arrays += [np.int16(7) * np.ones((3, 5), np.int16).T, np.array(2.5), np.zeros((0, 3))]
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        write_frame(w, {"op": "many"}, arrays)
        os._exit(0)
    os.close(w)
    header, got = read_frame(r, time.monotonic() + 10, 1 << 30)
    os.waitpid(pid, 0)
    os.close(r)
    assert header["op"] == "many" and len(got) == len(arrays)
    for sent, back in zip(arrays, got):
        assert back.dtype == sent.dtype and back.shape == sent.shape
        assert np.array_equal(back, sent)
        assert back.flags.aligned and back.flags.writeable and back.flags.c_contiguous
    got[1][...] = 0.0
    assert np.array_equal(got[2], arrays[2])  # its neighbour in the frame is untouched


def test_a_frame_larger_than_the_first_buffer_arrives_whole(monkeypatch):
    """The read buffer grows as the bytes arrive (here from 1000 bytes to 1.6 MB)."""
    from grader.protocol import wire

    monkeypatch.setattr(wire, "FIRST_READ_BYTES", 1000)
    arr = np.arange(200_000, dtype=np.float64)
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        write_frame(w, {"op": "big"}, [arr[::2], arr])
        os._exit(0)
    os.close(w)
    _, (half, whole) = read_frame(r, time.monotonic() + 10, 1 << 30)
    os.waitpid(pid, 0)
    os.close(r)
    assert np.array_equal(half, arr[::2]) and np.array_equal(whole, arr)


def test_a_header_that_declares_much_and_sends_little_costs_the_reader_little():
    """A hostile worker's reply declares 200 MiB of arrays, sends 1 KiB and closes: the reader
    sets aside its first buffer, not the 200 MiB, before the channel ends."""
    import tracemalloc

    from grader.protocol.wire import FIRST_READ_BYTES

    head = json.dumps({"blobs": [{"dtype": "<f8", "shape": [200 << 17]}]}).encode()
    r, w = os.pipe()
    os.write(w, struct.pack(">I", len(head)) + head + b"x" * 1024)
    os.close(w)
    tracemalloc.start()
    try:
        with pytest.raises(PeerClosed):
            read_frame(r, time.monotonic() + 5, 1 << 30)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
        os.close(r)
    assert peak < 2 * FIRST_READ_BYTES < 200 << 20


def _file_with(data: bytes, folder) -> int:
    """A readable descriptor holding ``data`` (a file: a pipe's buffer is too small)."""
    path = folder / "frame"
    path.write_bytes(data)
    return os.open(path, os.O_RDONLY)


def _raw_text(text: bytes, payload: bytes = b"") -> bytes:
    return struct.pack(">I", len(text)) + text + payload


@pytest.mark.parametrize(
    "text, match",
    [
        (b'{"v": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested 100001 deep"),
        (b'{"v": ' + b"{" * 5000, "nested"),  # unbalanced: refused before parsing as well
        (b'{"v": ' + b"1" * 5000 + b"}", "not JSON"),  # int digits: ValueError in json.loads
        (b"[1, 2]", "not a JSON object"),
    ],
    ids=["deep", "unbalanced", "digits", "array"],
)
def test_malformed_headers_are_refused_before_any_recursion(text, match, tmp_path):
    r = _file_with(_raw_text(text), tmp_path)
    with pytest.raises(MalformedHeader, match=match):
        read_frame(r, None, 1 << 20)
    os.close(r)


def test_nesting_depth_ignores_brackets_in_strings():
    quoted = json.dumps({"s": "[" * 1000 + "{" * 1000, "t": 'a"b\\[', "v": [[[1]]]}).encode()
    assert nesting_depth(quoted) == 4
    deep = json.dumps({"v": [[[[[[[[[[]]]]]]]]]]}) * 20
    assert nesting_depth(deep.encode()) == 11
    assert nesting_depth(b'{"v": [' * 200 + b"]}" * 200) == 400


def test_a_header_at_the_depth_limit_is_read(tmp_path):
    depth = MAX_HEADER_DEPTH - 1  # the outer object is one level
    text = b'{"v": ' + b"[" * depth + b"]" * depth + b"}"
    fd = _file_with(_raw_text(text), tmp_path)
    header, arrays = read_frame(fd, None, 1 << 20)
    os.close(fd)
    assert arrays == [] and isinstance(header["v"], list)
