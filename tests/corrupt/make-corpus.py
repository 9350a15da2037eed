#!/usr/bin/env python3
"""Generate fixtures/corrupt/ and fixtures/fuzz-seeds/{file,body}/ (docs/FORMAT.md).

    python3 tests/corrupt/make-corpus.py        # rewrites both folders

fixtures/corrupt/MANIFEST lists every file with what `asyncsnap` must do
with it: "2 <fragment>" (refused: exit status 2 and a message holding the
fragment) or "ok" (a valid file of a hostile shape: every command must
finish with status 0 or 1 and print no error). tests/e2e/test_corrupt.py
checks it.

The files are built here byte by byte, without the asyncsnap library: the
body frame is written as zstd *raw* blocks (one per chunk), with the XXH64
content checksum computed here, so that a cut or a flipped bit lands in a
known section and the checksum can be made right or left wrong on purpose.
The larger valid shapes are compressed with the zstd command. Output is
deterministic.
"""

import os
import shutil
import struct
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORRUPT = os.path.join(ROOT, "fixtures", "corrupt")
SEEDS = os.path.join(ROOT, "fixtures", "fuzz-seeds")

# ---- XXH64 (the zstd content checksum is its low 32 bits) ---------------

P1, P2, P3, P4, P5 = (0x9E3779B185EBCA87, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9,
                      0x85EBCA77C2B2AE63, 0x27D4EB2F165667C5)
M = (1 << 64) - 1


def _rotl(x, r):
    return ((x << r) | (x >> (64 - r))) & M


def _round(acc, lane):
    acc = (acc + lane * P2) & M
    return (_rotl(acc, 31) * P1) & M


def _merge(acc, val):
    acc ^= _round(0, val)
    return (acc * P1 + P4) & M


def xxh64(data, seed=0):
    n, i = len(data), 0
    if n >= 32:
        v = [(seed + P1 + P2) & M, (seed + P2) & M, seed, (seed - P1) & M]
        while i + 32 <= n:
            for k in range(4):
                v[k] = _round(v[k], struct.unpack_from("<Q", data, i + 8 * k)[0])
            i += 32
        h = (_rotl(v[0], 1) + _rotl(v[1], 7) + _rotl(v[2], 12) + _rotl(v[3], 18)) & M
        for k in range(4):
            h = _merge(h, v[k])
    else:
        h = (seed + P5) & M
    h = (h + n) & M
    while i + 8 <= n:
        h ^= _round(0, struct.unpack_from("<Q", data, i)[0])
        h = (_rotl(h, 27) * P1 + P4) & M
        i += 8
    if i + 4 <= n:
        h ^= (struct.unpack_from("<I", data, i)[0] * P1) & M
        h = (_rotl(h, 23) * P2 + P3) & M
        i += 4
    while i < n:
        h ^= (data[i] * P5) & M
        h = (_rotl(h, 11) * P1) & M
        i += 1
    h ^= h >> 33
    h = (h * P2) & M
    h ^= h >> 29
    h = (h * P3) & M
    h ^= h >> 32
    return h

# ---- encodings ----------------------------------------------------------


def varint(v):
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def zigzag(n):
    return ((n << 1) ^ (n >> 63)) & M


HEADER, STRINGS, NODES, RECORDS, ROOTS, EDGES, END = 1, 2, 3, 4, 5, 6, 0x7F
SECTION = {HEADER: "header", STRINGS: "string", NODES: "node", RECORDS: "record",
           ROOTS: "root", EDGES: "edge", END: "end"}


def chunk(kind, payload):
    return bytes([kind]) + varint(len(payload)) + payload


def preamble(version=1, needs=1, size=16, magic=0x184D2A5A, tag=b"ASYNCSNP"):
    return struct.pack("<II", magic, size) + tag + struct.pack("<II", version, needs) + \
        b"\0" * (size - 16)


def raw_frame(chunks, checksum=True, bad_checksum=False, cut_checksum=False):
    """One zstd frame of raw blocks, one per chunk (split at 128 KiB)."""
    content = b"".join(chunks)
    # Frame_Header_Descriptor: single segment off, checksum flag, no FCS;
    # window descriptor: 2^(10+exponent) bytes
    out = bytearray(struct.pack("<I", 0xFD2FB528))
    out.append(0x04 if checksum else 0x00)
    out.append(0x58)  # window 2^(10+11) = 2 MiB
    blocks = []
    for c in chunks:
        for i in range(0, max(len(c), 1), 128 << 10):
            blocks.append(c[i:i + (128 << 10)])
    for k, b in enumerate(blocks):
        last = 1 if k == len(blocks) - 1 else 0
        hdr = last | (0 << 1) | (len(b) << 3)
        out += struct.pack("<I", hdr)[:3] + b
    if checksum and not cut_checksum:
        h = xxh64(content) & 0xFFFFFFFF
        if bad_checksum:
            h ^= 1
        out += struct.pack("<I", h)
    return bytes(out)


def zstd_frame(content):
    p = subprocess.run(["zstd", "-q", "-c", "--check", "-3", "--no-content-size"],
                       input=content, capture_output=True, check=True)
    return p.stdout

# ---- a small valid snapshot, and ways to break it -----------------------


class Snap:
    """A snapshot as lists of Python values, encoded on demand."""

    def __init__(self, nodes=None):
        self.header = b'{"producer": "make-corpus", "pid": 4242, "seq": 1, "time": 1.5}'
        self.strings = [b"builtins.dict", b"builtins.list", b"builtins.coroutine",
                        b"_asyncio.Task", b"key", b"coroutine", b"task", b"qualname",
                        b"main.<locals>.work", b"state", b"PENDING", b"sys.modules",
                        b"thread", b"coro", b"name", b"Task-1", b"cr_frame"]
        # (type string id, size, refcnt, flags, [(target, kind, label)])
        self.nodes = nodes if nodes is not None else [
            (1, 232, 3, 1, [(1, 0, 5), (2, 0, 5), (3, 1, 0)]),
            (2, 88, 1, 1, [(2, 0, 0)]),
            (3, 120, 2, 1, [(4, 0, 17)]),
            (4, 96, 1, 1, [(2, 0, 14)]),
            (1, 64, 1, 1, [(2, 0, 0), (0, 0, 0)]),
        ]
        # (node, kind string id, [(key string id, value bytes)])
        self.records = [
            (2, 6, [(8, b"\x04" + varint(9))]),
            (3, 7, [(10, b"\x04" + varint(11)), (14, b"\x05" + varint(2)),
                    (15, b"\x04" + varint(16))]),
        ]
        self.roots = [(0, 12, 0), (4, 13, 16)]
        self.trailer = b'{"objects": 5}'
        self.totals = None  # override (strings, nodes, edges, records, roots)
        self.node_chunks = 1
        self.version, self.needs = 1, 1  # preamble (2, 2: index labels allowed)

    def strings_chunk(self):
        p = varint(len(self.strings)) + b"".join(varint(len(s)) + s for s in self.strings)
        return chunk(STRINGS, p)

    def nodes_payload(self, first, nodes):
        cols = [bytearray() for _ in range(9)]
        prev = 0x7F0000001000 + first * 64 if first else 0
        for i, (t, size, rc, flags, edges) in enumerate(nodes):
            addr = 0x7F0000001000 + (first + i) * 64
            cols[0] += varint(zigzag(addr - prev))
            prev = addr
            cols[1] += varint(t)
            cols[2] += varint(size)
            cols[3] += varint(rc)
            cols[4] += varint(flags)
            cols[5] += varint(len(edges))
            for tgt, kind, label in edges:
                cols[6] += varint(zigzag(tgt - (first + i)))
                cols[7].append(kind)
                cols[8] += varint(label)
        return varint(first) + varint(len(nodes)) + b"".join(varint(len(c)) + bytes(c) for c in cols)

    def node_chunk_list(self):
        if not self.nodes:
            return []
        k = max(1, -(-len(self.nodes) // self.node_chunks))
        return [chunk(NODES, self.nodes_payload(i, self.nodes[i:i + k]))
                for i in range(0, len(self.nodes), k)]

    def records_chunk(self):
        p = varint(len(self.records))
        for node, kind, props in self.records:
            p += varint(node) + varint(kind) + varint(len(props))
            for key, val in props:
                p += varint(key) + val
        return chunk(RECORDS, p)

    def roots_chunk(self):
        return chunk(ROOTS, varint(len(self.roots)) + b"".join(
            varint(n) + varint(k) + varint(lab) for n, k, lab in self.roots))

    def end_chunk(self):
        t = self.totals or (len(self.strings), len(self.nodes),
                            sum(len(n[4]) for n in self.nodes), len(self.records), len(self.roots))
        return chunk(END, b"".join(varint(x) for x in t) + varint(len(self.trailer)) + self.trailer)

    def chunks(self):
        out = [chunk(HEADER, self.header), self.strings_chunk()]
        out += self.node_chunk_list()
        if self.records:
            out.append(self.records_chunk())
        if self.roots:
            out.append(self.roots_chunk())
        out.append(self.end_chunk())
        return out

    def file(self, **kw):
        return preamble(self.version, self.needs) + raw_frame(self.chunks(), **kw)


def with_chunks(chunks, **kw):
    return preamble() + raw_frame(chunks, **kw)


def flip(b, i, bit=0x01):
    b = bytearray(b)
    b[i] ^= bit
    return bytes(b)

# ---- the corpus ---------------------------------------------------------


def corrupt_cases():
    """(name, bytes, expected): expected is a message fragment, or None for
    a valid file of a hostile shape."""
    s = Snap()
    good = s.file()
    ch = s.chunks()
    pre = preamble()
    cases = [("valid.snap", good, None)]

    # -- preamble and frame
    cases += [
        ("empty.snap", b"", "not a snapshot: the file is empty"),
        ("wrong-magic.snap", flip(good, 0, 0x02), "not a snapshot: unknown magic number"),
        ("text-file.snap", b"hello, I am not a snapshot\n", "unknown magic number"),
        ("bare-zstd.snap", good[24:], "a zstd stream without the asyncsnap preamble"),
        ("other-skippable.snap", good[:8] + b"OTHERPRG" + good[16:],
         "a zstd skippable frame of another program"),
        ("future-version.snap", preamble(3, 3) + good[24:],
         "written by a newer asyncsnap (format version 3)"),
        ("version-zero.snap", preamble(0, 0) + good[24:], "corrupt preamble: bad version 0/0"),
        ("needs-above-version.snap", preamble(1, 3) + good[24:], "bad version 1/3"),
        ("preamble-size-small.snap", struct.pack("<I", 0x184D2A5A) + struct.pack("<I", 8) + good[8:],
         "corrupt preamble: bad length 8"),
        ("preamble-size-huge.snap", struct.pack("<I", 0x184D2A5A) + struct.pack("<I", 0xFFFFFFFF) +
         good[8:], "corrupt preamble: bad length 4294967295"),
        ("truncated-preamble.snap", good[:20], "truncated in the preamble"),
        ("truncated-after-preamble.snap", good[:24], "truncated after the preamble"),
        ("truncated-frame-header.snap", good[:27], "truncated in the frame header"),
        ("body-not-zstd.snap", pre + b"\0" * 40, "the body is not a zstd frame"),
        ("no-checksum.snap", pre + raw_frame(ch, checksum=False), "the body frame has no checksum"),
        ("checksum-wrong.snap", s.file(bad_checksum=True), "checksum mismatch"),
        ("checksum-missing.snap", s.file(cut_checksum=True),
         "truncated in the end section (checksum missing)"),
        ("trailing-bytes.snap", good + b"\0", "trailing bytes after the snapshot"),
        ("second-frame.snap", good + raw_frame(ch), "trailing bytes after the snapshot"),
        ("data-after-end.snap", with_chunks(ch + [chunk(HEADER, b"{}")]),
         "data after the end record"),
    ]

    # -- truncated at every section: in the middle of each chunk, and right
    # after it (the body ends cleanly before END, checksum present)
    frame = bytearray(raw_frame(ch))
    off = 24 + 6  # preamble, frame header
    for k, c in enumerate(ch):
        name = SECTION[c[0]]
        start = off + 3  # block header
        mid = start + len(c) // 2
        cases.append(("truncated-in-%s-%d.snap" % (name, k), pre + bytes(frame[:mid - 24]),
                      "truncated in the %s section" % name))
        if c[0] != END:
            cases.append(("truncated-after-%s-%d.snap" % (name, k), with_chunks(ch[:k + 1]),
                          "truncated after the %s section (no end record)" % name))
        off = start + len(c)

    # -- a bit flipped in every section with the checksum left as it was
    # (bytes that still parse: only the checksum can tell) ...
    off = 24 + 6
    for k, c in enumerate(ch):
        name = SECTION[c[0]]
        start = off + 3
        # the last byte of each chunk: header '}', a string's last byte,
        # a label varint, a prop value, a root label, the trailer '}'
        pos = start + len(c) - 1
        bit = 0x02 if c[0] in (HEADER, END, STRINGS) else 0x01
        if c[0] == NODES:
            pos = start + len(c) - 1  # last LABEL entry 0 -> 1: a defined string
        cases.append(("bitflip-%s-%d.snap" % (name, k), pre + flip(bytes(frame), pos - 24, bit),
                      "checksum mismatch"))
        off = start + len(c)

    # ... and flips that break the section, checksum recomputed so that the
    # reader's own checks must find them
    def variant(name, msg, **changes):
        v = Snap()
        for key, val in changes.items():
            setattr(v, key, val)
        cases.append((name, v.file(), msg))

    hdr = bytearray(ch[0])
    hdr[2] ^= ord("{") ^ ord("[")
    cases.append(("bitflip-header-not-object.snap", with_chunks([bytes(hdr)] + ch[1:]),
                  "corrupt header section: not a JSON object"))
    cases.append(("header-with-nul.snap", with_chunks([chunk(HEADER, b'{"a":\0}')] + ch[1:]),
                  "corrupt header section: not a JSON object"))
    cases.append(("header-invalid-json.snap",
                  with_chunks([chunk(HEADER, b'{"objects": 3, "python": ')] + ch[1:]),
                  "corrupt header section: invalid JSON"))
    cases.append(("header-missing.snap", with_chunks(ch[1:]), "the header is missing"))
    cases.append(("header-twice.snap", with_chunks(ch[:1] + ch), "a second header"))
    strs = bytearray(ch[1])
    strs[1 + len(varint(len(strs) - 3)) + 1] = 0  # the first string's length 13 -> 0
    cases.append(("bitflip-string-length.snap", with_chunks(ch[:1] + [bytes(strs)] + ch[2:]),
                  "corrupt string section: bad string length"))
    cases.append(("string-count-zero.snap",
                  with_chunks(ch[:1] + [chunk(STRINGS, b"\0")] + ch[1:]),
                  "corrupt string section: bad string count"))
    cases.append(("string-too-long.snap",
                  pre + zstd_frame(b"".join(ch[:1] + [chunk(STRINGS, b"\x01" + varint((1 << 20) + 1) +
                                              b"x" * ((1 << 20) + 1))] + ch[1:])),
                  "corrupt string section: bad string length"))
    cases.append(("unknown-chunk-type.snap", with_chunks(ch[:2] + [chunk(0x33, b"x")] + ch[2:]),
                  "unknown chunk type 0x33"))
    cases.append(("unknown-optional-chunk.snap",
                  with_chunks(ch[:2] + [chunk(0xB3, b"ignored")] + ch[2:]), None))
    cases.append(("chunk-length-huge.snap",
                  with_chunks(ch[:2] + [bytes([NODES]) + varint(1 << 40)]),
                  "claims 1099511627776 bytes, more than the format allows"))
    cases.append(("chunk-length-overlong.snap",
                  with_chunks(ch[:2] + [bytes([NODES]) + b"\xff" * 11]),
                  "corrupt node section: bad chunk length"))
    # nodes
    nodes_p = Snap().nodes_payload(0, Snap().nodes)
    cases.append(("nodes-out-of-sequence.snap",
                  with_chunks(ch[:2] + [chunk(NODES, b"\x01" + nodes_p[1:])] + ch[3:]),
                  "corrupt node section: nodes out of sequence"))
    cases.append(("node-count-2pow40.snap",
                  with_chunks(ch[:2] + [chunk(NODES, b"\x00" + varint(1 << 40) + nodes_p[2:])] + ch[3:]),
                  "corrupt node section: bad node count"))
    cases.append(("node-count-too-many.snap",
                  with_chunks(ch[:2] + [chunk(NODES, b"\x00\x06" + nodes_p[2:])] + ch[3:]),
                  "corrupt node section: columns disagree on the node count"))
    cases.append(("node-count-too-few.snap",
                  with_chunks(ch[:2] + [chunk(NODES, b"\x00\x04" + nodes_p[2:])] + ch[3:]),
                  "corrupt node section: columns disagree on the node count"))
    cases.append(("node-count-zero.snap",
                  with_chunks(ch[:2] + [chunk(NODES, b"\x00\x00" + nodes_p[2:])] + ch[3:]),
                  "corrupt node section: bad node count"))
    variant("node-type-undefined.snap", "corrupt node section: node type is an undefined string",
            nodes=[(99, 8, 1, 1, [])])
    variant("node-flags-too-wide.snap", "corrupt node section: bad node flags",
            nodes=[(1, 8, 1, 1 << 33, [])])
    variant("edge-kind-unknown.snap", "corrupt node section: unknown edge kind",
            nodes=[(1, 8, 1, 1, [(0, 2, 0)])])
    # format 2: kind | 2 (INDEX) makes the label an index ("[i]")
    variant("edge-index-in-format-1.snap", "corrupt node section: unknown edge kind",
            nodes=[(1, 8, 1, 1, [(0, 2, 0)])], version=2, needs=1)
    variant("edge-kind-unknown-format-2.snap", "corrupt node section: unknown edge kind",
            nodes=[(1, 8, 1, 1, [(0, 4, 0)])], version=2, needs=2)
    variant("edge-index-too-large.snap", "corrupt node section: edge index label too large",
            nodes=[(1, 8, 1, 1, [(0, 2, 1 << 31)])], version=2, needs=2)
    variant("edge-index-past-edges.snap",
            "corrupt file: an index label 65537, but the file has 1 edges",
            nodes=[(1, 8, 1, 1, [(0, 2, 65537)])], records=[], roots=[], version=2, needs=2)
    variant("edge-label-undefined.snap", "corrupt node section: edge label is an undefined string",
            nodes=[(1, 8, 1, 1, [(0, 0, 500)])])
    variant("edge-count-past-columns.snap",
            "corrupt node section: edge count runs past the edge columns",
            nodes=[(1, 8, 1, 1, [(0, 0, 0)] * 3)], totals=(17, 1, 3, 0, 0), records=[], roots=[])
    # the NEDGES entry of the last node: 3 -> 200
    v = Snap(nodes=[(1, 8, 1, 1, [(0, 0, 0)] * 3)])
    v.records, v.roots = [], []
    p = bytearray(v.nodes_payload(0, v.nodes))
    i = p.index(b"\x01\x03", 2)  # column 5 (NEDGES): length 1, value 3
    p[i + 1] = 0x7F
    cases[-1] = ("edge-count-past-columns.snap",
                 with_chunks(v.chunks()[:2] + [chunk(NODES, bytes(p))] + v.chunks()[3:]),
                 "corrupt node section: edge count runs past the edge columns")
    # edges to nonexistent nodes
    variant("edge-to-missing-node.snap", "a reference to node 7, but the file has 5 nodes",
            nodes=Snap().nodes[:4] + [(1, 64, 1, 1, [(7, 0, 0)])])
    variant("edge-to-impossible-node.snap", "corrupt node section: edge to an impossible node id",
            nodes=Snap().nodes[:4] + [(1, 64, 1, 1, [(0xFFFFFFFE, 0, 0)])])
    variant("edge-to-negative-node.snap", "corrupt node section: edge to an impossible node id",
            nodes=[(1, 64, 1, 1, [(-1, 0, 0)])] + Snap().nodes[1:])
    variant("root-to-missing-node.snap", "a reference to node 50, but the file has 5 nodes",
            roots=[(0, 12, 0), (50, 13, 0)])
    variant("record-to-missing-node.snap", "a reference to node 9, but the file has 5 nodes",
            records=[(9, 6, [])])
    variant("record-value-to-missing-node.snap", "a reference to node 6, but the file has 5 nodes",
            records=[(3, 7, [(14, b"\x05" + varint(6))])])
    variant("no-nodes-but-roots.snap", "a reference to node 4, but the file has 0 nodes",
            nodes=[], records=[])
    # edges chunks
    cases.append(("edges-following-no-node.snap",
                  with_chunks(ch[:2] + [chunk(EDGES, b"\x00\x01\x01\x00\x01\x00\x01\x00")] + ch[2:]),
                  "corrupt edge section: edges that follow no node"))
    cases.append(("edges-of-another-node.snap",
                  with_chunks(ch[:3] + [chunk(EDGES, b"\x01\x01\x01\x00\x01\x00\x01\x00")] + ch[3:]),
                  "corrupt edge section: edges of a node other than the last one"))
    cases.append(("edges-empty.snap",
                  with_chunks(ch[:3] + [chunk(EDGES, b"\x04\x00\x00\x00\x00")] + ch[3:]),
                  "corrupt edge section: empty edge chunk"))
    # records and values
    variant("record-kind-undefined.snap", "corrupt record section: reference to an undefined string",
            records=[(2, 77, [])])
    variant("record-bad-bool.snap", "corrupt record section: bad boolean",
            records=[(2, 6, [(8, b"\x01\x02")])])
    variant("record-unknown-value.snap", "corrupt record section: unknown value type",
            records=[(2, 6, [(8, b"\x09")])])
    variant("record-lists-too-deep.snap", "corrupt record section: lists nested too deep",
            records=[(2, 6, [(8, b"\x06\x01" * 9 + b"\x00")])])
    variant("record-list-past-chunk.snap", "corrupt record section: list runs past the chunk",
            records=[(2, 6, [(8, b"\x06\x7f")])])
    variant("record-float-past-chunk.snap", "corrupt record section: value runs past the chunk",
            records=[(2, 6, [(8, b"\x03\x00\x00")])])
    variant("record-prop-count-huge.snap", "corrupt record section: bad property count",
            records=[(2, 6, [(8, b"\x00")] * 1)])
    # nprops of the only record: 1 -> 2^40
    v = Snap()
    v.records = [(2, 6, [(8, b"\x00")])]
    rc = bytearray(v.records_chunk())
    body = rc[2:]
    body = body[:3] + varint(1 << 40) + body[4:]
    cases[-1] = ("record-prop-count-huge.snap",
                 with_chunks(v.chunks()[:3] + [chunk(RECORDS, bytes(body))] + v.chunks()[4:]),
                 "corrupt record section: bad property count")
    cases.append(("record-count-huge.snap",
                  with_chunks(ch[:3] + [chunk(RECORDS, varint(1 << 40) + b"\x00\x00\x00")] + ch[4:]),
                  "corrupt record section: bad item count"))
    cases.append(("record-bytes-left-over.snap",
                  with_chunks(ch[:3] + [chunk(RECORDS, b"\x01\x00\x06\x00\x00")] + ch[4:]),
                  "corrupt record section: bytes left over"))
    variant("root-number-out-of-range.snap", "corrupt root section: number out of range",
            roots=[(0xFFFFFFFF, 12, 0)])
    variant("root-label-undefined.snap", "corrupt root section: reference to an undefined string",
            roots=[(0, 12, 4000)])
    # inconsistent counts
    variant("totals-strings.snap", "corrupt end section: the totals disagree with the file's content",
            totals=(18, 5, 8, 2, 2))
    variant("totals-nodes.snap", "the totals disagree with the file's content",
            totals=(17, 1 << 40, 8, 2, 2))
    variant("totals-edges.snap", "the totals disagree with the file's content",
            totals=(17, 5, 7, 2, 2))
    e = bytearray(ch[-1])
    e[7] = 0x7F  # trailer length 14 -> 127
    cases.append(("bitflip-end-trailer-length.snap", with_chunks(ch[:-1] + [bytes(e)]),
                  "corrupt end section: bad trailer length"))

    # -- valid files of hostile shapes: cycles that break naive dominator
    # code, self-loops, unreachable cycles, roots inside cycles, forward
    # references, and a header whose size hints claim 2^40 objects
    def shape(name, nodes, roots, records=(), header=None, chunks_n=1, version=1):
        v = Snap(nodes=nodes)
        v.version = v.needs = version
        v.roots = list(roots)
        v.records = list(records)
        v.node_chunks = chunks_n
        if header:
            v.header = header
        cases.append((name, v.file(), None))

    shape("shape-self-loops.snap", [(1, 8, 1, 1, [(i, 0, 0), (i, 1, 0)]) for i in range(6)],
          [(0, 12, 0)])
    ring = 40
    shape("shape-one-big-cycle.snap", [(1, 8, 1, 1, [((i + 1) % ring, 0, 0)]) for i in range(ring)],
          [(17, 12, 0)])
    # irreducible: the root enters a loop a<->b at both a and b
    shape("shape-irreducible.snap", [(1, 8, 1, 1, [(1, 0, 0), (2, 0, 0)]),
                                     (1, 8, 1, 1, [(2, 0, 0)]), (1, 8, 1, 1, [(1, 0, 0)])],
          [(0, 12, 0)])
    # no roots at all: everything unreachable, in cycles
    shape("shape-unreachable-cycles.snap",
          [(3, 8, 1, 1, [((i + 1) % 3 + 3 * (i // 3), 0, 0)]) for i in range(9)], [],
          records=[(0, 6, [(8, b"\x04" + varint(9))]), (4, 7, [(14, b"\x05\x03")])])
    # every node a root, complete graph
    k = 12
    shape("shape-complete-graph.snap", [(1, 8, 1, 1, [(j, 0, 0) for j in range(k)]) for _ in range(k)],
          [(i, 12, 0) for i in range(k)])
    # a root held twice, duplicate edges, only weak edges
    shape("shape-duplicate-edges.snap", [(1, 8, 1, 1, [(1, 0, 0)] * 5 + [(2, 1, 0)] * 3),
                                         (2, 8, 1, 1, [(0, 1, 0)]), (2, 8, 1, 1, [])],
          [(0, 12, 0), (0, 12, 0), (2, 13, 0)])
    # format 2: a list whose items are index labels (strong and weak), in a
    # chunk each, beside an ordinary label
    shape("shape-list-index.snap", [(2, 8, 1, 1, [(1 + i, i & 1, 0) for i in range(3)] +
                                     [(1 + i, 2 | (i & 1), i) for i in range(12)] + [(0, 0, 5)])] +
          [(1, 8, 1, 1, [(0, 2, 0)]) for _ in range(12)], [(0, 12, 0)], chunks_n=3, version=2)
    # task and coroutine records pointing at each other in a cycle
    shape("shape-task-cycle.snap", [(4, 100, 1, 1, [(1, 0, 14)]), (3, 100, 1, 1, [(2, 0, 17)]),
                                    (1, 100, 1, 1, [(0, 0, 5)])], [],
          records=[(0, 7, [(10, b"\x04" + varint(11)), (14, b"\x05\x01")]),
                   (1, 6, [(8, b"\x04" + varint(9))])])
    # strings holding NUL bytes (the agent stores raw bytes prefixes) that
    # start like the names the analyzer looks for
    v = Snap()
    v.strings += [b"coro\0", b"_asyncio.Task\0x", b"state\0PENDING", b"\0", b"builtins.coroutine\0"]
    v.records.append((1, 21, [(20, b"\x04" + varint(19)), (18, b"\x04" + varint(22))]))
    v.nodes = [(21 if i == 1 else t, sz, rc, fl, e) for i, (t, sz, rc, fl, e) in enumerate(v.nodes)]
    cases.append(("shape-strings-with-nul.snap", v.file(), None))
    shape("shape-header-claims-2pow40.snap", Snap().nodes, Snap().roots,
          header=b'{"objects": 1099511627776, "edges": 1099511627776}', chunks_n=5)
    return cases


def big_shapes():
    """Large valid shapes, compressed: a 300000-deep chain (a recursive walk
    overflows the stack) and a wide star."""
    out = []
    n = 300000
    v = Snap(nodes=[(1, 16, 1, 1, [(i + 1, 0, 0)] if i + 1 < n else []) for i in range(n)])
    v.roots, v.records = [(0, 12, 0)], []
    v.node_chunks = -(-n // 65536)
    out.append(("shape-deep-chain.snap", preamble() + zstd_frame(b"".join(v.chunks())), None))
    # the same chain, entered from its far end by a back edge: deep cycle
    v.nodes[-1] = (1, 16, 1, 1, [(0, 0, 0)])
    v.roots = [(n - 1, 12, 0)]
    out.append(("shape-deep-cycle.snap", preamble() + zstd_frame(b"".join(v.chunks())), None))
    return out


def main():
    cases = corrupt_cases() + big_shapes()
    names = [c[0] for c in cases]
    assert len(names) == len(set(names)), "duplicate names"
    shutil.rmtree(CORRUPT, ignore_errors=True)
    os.makedirs(CORRUPT)
    lines = ["# file\texpected: \"ok\" (valid, any command exits 0 or 1) or \"2\\t<message fragment>\"",
             "# generated by tests/corrupt/make-corpus.py: edit that, not this"]
    for name, data, msg in cases:
        with open(os.path.join(CORRUPT, name), "wb") as f:
            f.write(data)
        lines.append("%s\t%s" % (name, "ok" if msg is None else "2\t" + msg))
    with open(os.path.join(CORRUPT, "MANIFEST"), "w") as f:
        f.write("\n".join(lines) + "\n")
    # fuzz seeds: the small valid files, whole and as chunk streams
    # (not regress/: the fuzzer's findings, kept by hand)
    for sub in ("file", "body"):
        shutil.rmtree(os.path.join(SEEDS, sub), ignore_errors=True)
        os.makedirs(os.path.join(SEEDS, sub))
    for name, data, msg in corrupt_cases():
        if msg is None:
            with open(os.path.join(SEEDS, "file", name), "wb") as f:
                f.write(data)
            body = bytearray()
            # unpack the raw blocks again
            i = 24 + 6
            while True:
                hdr = int.from_bytes(data[i:i + 3], "little")
                size = hdr >> 3
                body += data[i + 3:i + 3 + size]
                i += 3 + size
                if hdr & 1:
                    break
            with open(os.path.join(SEEDS, "body", name[:-5] + ".bin"), "wb") as f:
                f.write(bytes(body))
    # and the small corrupt files, for the whole-file target
    for name, data, msg in cases:
        if msg is not None and 0 < len(data) <= 4096:
            with open(os.path.join(SEEDS, "file", name), "wb") as f:
                f.write(data)
    budget_seeds()
    print("make-corpus: %d files in fixtures/corrupt/" % len(cases), file=sys.stderr)


def budget_seeds():
    """Fuzz seeds that claim more memory than the fuzz targets' budget
    (tests/fuzz/fuzz-snapshot.c): bombs made as tests/e2e/test_budget.py
    makes them, small enough for the fuzzer."""
    sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
    import test_budget as b
    # fuzz-reader keeps no objects, only strings and buffers: its bomb is
    # the string table; many objects or references would only be streamed
    # through, slowly under ASan, so those seeds are small, for their shape
    files = {
        "budget-strings.snap": b.string_bomb(256 << 20),  # 256 MiB of strings
        "budget-nodes.snap": b.node_bomb(chunks=2),       # 131072 zero objects
        "budget-edges.snap": b.edge_bomb(200_000),        # one object, EDGES chunks
    }
    for name, data in files.items():
        with open(os.path.join(SEEDS, "file", name), "wb") as f:
            f.write(data)
    # a chunk stream: one object whose references go on in EDGES chunks
    edges = b.edge_bomb(20_000)
    p = subprocess.run(["zstd", "-q", "-d", "-c"], input=edges[24:], capture_output=True, check=True)
    with open(os.path.join(SEEDS, "body", "budget-edges.bin"), "wb") as f:
        f.write(p.stdout)


if __name__ == "__main__":
    main()
