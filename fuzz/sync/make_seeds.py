#!/usr/bin/env python3
"""Writes the seed inputs for fuzz_sync_expansions (chunk ranges and expansions grafted onto
the target's fixed manifest, whose bucket 7 is split(E, E, E, S, E, ...) with
S = split(E x 16) and E the empty leaf): two valid manifests the fuzzer mutates from.
Run from this directory: python3 make_seeds.py (writes into seeds/fuzz_sync_expansions/)."""
import hashlib
import struct


def tagged(tag, data):
    t = tag.encode()
    return hashlib.sha256(bytes([len(t)]) + t + data).digest()


EMPTY = tagged("openliquid/state/bucket/v1", struct.pack("<I", 0))
INNER = tagged("openliquid/state/split/v1", EMPTY * 16)
KIDS = [EMPTY] * 16
KIDS[3] = INNER
UNITS = 65536 + 15 + 15


def expansion(bucket, path, children):
    return struct.pack("<II", bucket, len(path)) + bytes(path) + b"".join(children)


EXPANSIONS = struct.pack("<I", 2) + expansion(7, [], KIDS) + expansion(7, [3], [EMPTY] * 16)


def seed(ranges):
    body = struct.pack("<I", len(ranges) | 0x80000000)
    body += b"".join(struct.pack("<II", first, count) for first, count in ranges)
    return body + EXPANSIONS


with open("seeds/fuzz_sync_expansions/expanded_one_chunk", "wb") as f:
    f.write(seed([(0, UNITS)]))
with open("seeds/fuzz_sync_expansions/expanded_two_chunks", "wb") as f:
    f.write(seed([(0, 65543), (65543, UNITS - 65543)]))
