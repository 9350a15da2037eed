"""asyncsnap export: --format heapsnapshot, a valid V8 heap snapshot whose
retainer paths are asyncsnap's own; --format dot, the chain `path` finds or
the cycles `cycles` reports, as Graphviz renders them; --format collapsed,
retained size as flame graph stacks that add up to what `dominators` says.
Snapshot strings are untrusted: hostile names must not break either text
format."""

import collections
import html
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import unittest
import xml.etree.ElementTree as ET

from e2e import ROOT, TempDirTest, agent_python, fixture_snapshots, run, run_json


def load(path):
    with open(path) as f:
        return json.load(f)


class HeapSnapshotTest(TempDirTest):
    def export(self, snap):
        out = self.path("a.heapsnapshot")
        p = run("export", "--format", "heapsnapshot", "-o", out, snap)
        self.assertEqual(p.returncode, 0, p.stderr)
        return load(out)

    def test_every_fixture_exports_a_consistent_snapshot(self):
        snaps = fixture_snapshots()
        if not snaps:
            self.skipTest("no fixture snapshots")
        for name, snap in snaps.items():
            with self.subTest(name):
                hs = self.export(snap)
                info = run_json("info", "--json", snap)
                meta = hs["snapshot"]["meta"]
                nf, ef = len(meta["node_fields"]), len(meta["edge_fields"])
                nodes, edges, strings = hs["nodes"], hs["edges"], hs["strings"]
                # one node per object, plus the synthetic root
                self.assertEqual(hs["snapshot"]["node_count"], info["objects"] + 1)
                self.assertEqual(len(nodes), hs["snapshot"]["node_count"] * nf)
                self.assertEqual(len(edges), hs["snapshot"]["edge_count"] * ef)
                counts = [nodes[i + 4] for i in range(0, len(nodes), nf)]
                self.assertEqual(sum(counts), hs["snapshot"]["edge_count"])
                self.assertEqual(sum(counts[1:]), info["edges"])
                self.assertTrue(all(edges[i + 2] % nf == 0 and edges[i + 2] < len(nodes)
                                    for i in range(0, len(edges), ef)))
                self.assertTrue(all(0 <= nodes[i + 1] < len(strings)
                                    for i in range(0, len(nodes), nf)))
                ids = [nodes[i + 2] for i in range(0, len(nodes), nf)]
                self.assertEqual(len(set(ids)), len(ids))
                weak = meta["edge_types"][0].index("weak")
                n_weak = sum(1 for i in range(0, len(edges), ef) if edges[i] == weak)
                self.assertEqual(n_weak, info["weak_edges"])
                # the class names are the constructors DevTools groups by
                names = {strings[nodes[i + 1]] for i in range(0, len(nodes), nf)}
                self.assertIn("__main__.Session", names)

    def test_retainer_path_matches_asyncsnap_path(self):
        snap = fixture_snapshots().get("py3.11") or next(iter(fixture_snapshots().values()))
        hs = self.export(snap)
        meta = hs["snapshot"]["meta"]
        nf = len(meta["node_fields"])
        etypes = meta["edge_types"][0]
        nodes, edges, strings = hs["nodes"], hs["edges"], hs["strings"]
        index = {}
        first_edge = []
        e = 0
        for i in range(0, len(nodes), nf):
            index[nodes[i + 2]] = i
            first_edge.append(e)
            e += nodes[i + 4] * 3

        def out_edges(node_index):
            k = node_index // nf
            start = first_edge[k]
            for j in range(start, start + nodes[node_index + 4] * 3, 3):
                yield etypes[edges[j]], edges[j + 1], edges[j + 2]

        # node ids are 2v + 3, v the object's number in `dump`
        number = {}
        for line in run("dump", "--json", snap).stdout.splitlines():
            o = json.loads(line)
            number[o["addr"]] = o["id"]
        self.assertTrue(all(index[2 * v + 3] == (v + 1) * nf for v in number.values()))
        path = run_json("path", "--json", "--type", "__main__.Session", snap)["path"]
        at = index[2 * number[path[0]["addr"]] + 3]
        # the root is an edge of the synthetic root
        self.assertIn(at, [to for _, _, to in out_edges(0)])
        for step in path[1:]:
            target = index[2 * number[step["addr"]] + 3]
            names = set()
            for etype, name, to in out_edges(at):
                if to == target:
                    names.add("[%d]" % name if etype == "element" else
                              strings[name] if etype in ("property", "weak", "shortcut") else None)
            self.assertTrue(names, step)
            if step["label"] is not None:
                self.assertIn(step["label"], names)
            at = target

    def test_bad_format_and_unwritable_output(self):
        snap = next(iter(fixture_snapshots().values()))
        p = run("export", "--format", "svg", snap)
        self.assertEqual(p.returncode, 2)
        self.assertIn("unknown format", p.stderr)
        p = run("export", snap)
        self.assertEqual(p.returncode, 2)
        out = os.path.join(self.dir, "missing", "a.heapsnapshot")
        p = run("export", "--format", "heapsnapshot", "-o", out, snap)
        self.assertEqual(p.returncode, 2)
        self.assertIn(out, p.stderr)
        self.assertFalse(os.path.exists(os.path.dirname(out)))
        self.assertEqual(os.listdir(self.dir), [])


class MemlabTest(TempDirTest):
    """memlab reads the export and computes the same retained size.

    Needs node and the @memlab/heap-analysis npm package; point
    ASYNCSNAP_MEMLAB_MODULES at a node_modules holding it (scripts/test.sh
    installs it when node and npm are there). Skipped otherwise."""

    def test_memlab_loads_the_export_and_agrees_on_retained_size(self):
        import shutil
        import subprocess
        modules = os.environ.get("ASYNCSNAP_MEMLAB_MODULES")
        if not modules or not shutil.which("node") or \
                not os.path.isdir(os.path.join(modules, "@memlab", "heap-analysis")):
            self.skipTest("memlab not installed (set ASYNCSNAP_MEMLAB_MODULES)")
        snap = fixture_snapshots()["py3.11"]
        out = self.path("a.heapsnapshot")
        self.assertEqual(run("export", "--format", "heapsnapshot", "-o", out, snap).returncode, 0)
        script = os.path.join(os.path.dirname(__file__), "js", "memlab-check.js")
        env = dict(os.environ, NODE_PATH=modules)
        for var in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
            env.pop(var, None)  # the sanitized suite's, not node's
        p = subprocess.run(["node", script, out], capture_output=True, text=True, env=env,
                           timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = json.loads(p.stdout.strip().splitlines()[-1].split("\x1b[K")[-1])
        info = run_json("info", "--json", snap)
        self.assertEqual(got["nodes"], info["objects"] + 1)
        # every reference, and one shortcut edge from the synthetic root per root
        roots = run_json("dominators", "--json", snap)["roots"]["count"]
        self.assertEqual(got["edges"], info["edges"] + roots)
        path = run_json("path", "--json", "--type", "__main__.Session", snap)
        self.assertEqual(got["session_retained"], path["target"]["retained"])
        # the immediate dominator memlab computes is asyncsnap's
        idom = [step["type"] for step in path["path"] if step["addr"] == path["target"]["idom"]]
        self.assertEqual(got["dominators"][:2], ["__main__.Session"] + idom)


# ---- DOT ------------------------------------------------------------------

_DOT_TOKEN = re.compile(r'\s*(?:("(?:[^"\\\n]|\\[^\n])*")|(->|[{}\[\];,=])|([A-Za-z_0-9.#-]+))')


def _dot_tokens(text):
    """The tokens of a DOT file; quoted strings keep their quotes. Fails on
    anything that is not DOT as asyncsnap writes it (an unterminated string,
    a raw line break inside one)."""
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _DOT_TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise AssertionError("not DOT at %d: %r" % (pos, text[pos:pos + 60]))
        out.append(m.group(1) or m.group(2) or m.group(3))
        pos = m.end()
    return out


def _dot_value(tok):
    """What Graphviz shows for a token: the DOT string syntax (\\" is a
    quote), then its label escapes (\\\\ a backslash, \\n a line break).
    Returns the lines. Graphviz's magic escapes (\\N, \\G, ...) must never
    appear: they would show the node's name instead of the snapshot's."""
    if not tok.startswith('"'):
        return [tok]
    s, out, i = tok[1:-1], [], 0
    while i < len(s):
        c = s[i]
        if c == "\\":
            nxt = s[i + 1]
            assert nxt not in "NGETHL", "Graphviz escape \\%s in %r" % (nxt, tok)
            out.append("\n" if nxt in "nlr" else nxt)
            i += 2
        else:
            out.append(c)
            i += 1
    # Graphviz decodes entities in plain labels too (asyncsnap writes & as &amp;)
    return html.unescape("".join(out)).split("\n")


def parse_dot(text):
    """asyncsnap's DOT as {"label", "nodes": {id: attrs}, "edges": [(from,
    to, attrs)], "clusters": [{"name", "label", "nodes", "edges"}]}; attribute
    values are lists of lines."""
    toks = _dot_tokens(text)
    assert toks[:3] == ["digraph", "asyncsnap", "{"], toks[:3]
    g = {"label": None, "nodes": {}, "edges": [], "clusters": []}
    i, cluster = 3, None

    def attrs(j):
        a = {}
        if j < len(toks) and toks[j] == "[":
            j += 1
            while toks[j] != "]":
                k, eq, v = toks[j:j + 3]
                assert eq == "=", toks[j:j + 3]
                a[k] = _dot_value(v)
                j += 3
                if toks[j] == ",":
                    j += 1
            j += 1
        return a, j

    while True:
        t = toks[i]
        if t == "}":
            if cluster is None:
                assert i == len(toks) - 1, "text after the graph"
                return g
            cluster, i = None, i + 1
        elif t == "subgraph":
            assert cluster is None and toks[i + 2] == "{"
            cluster = {"name": toks[i + 1], "label": None, "nodes": [], "edges": []}
            g["clusters"].append(cluster)
            i += 3
        elif t in ("graph", "node", "edge"):
            _, i = attrs(i + 1)
            assert toks[i] == ";"
            i += 1
        elif toks[i + 1] == "=":
            if t == "label":
                (cluster or g)["label"] = _dot_value(toks[i + 2])
            i += 3
            assert toks[i] == ";"
            i += 1
        elif toks[i + 1] == "->":
            a, j = attrs(i + 3)
            e = (_dot_value(t)[0], _dot_value(toks[i + 2])[0], a)
            g["edges"].append(e)
            if cluster is not None:
                cluster["edges"].append(e)
            assert toks[j] == ";"
            i = j + 1
        else:
            a, j = attrs(i + 1)
            node = _dot_value(t)[0]
            assert node not in g["nodes"], "node %s twice" % node
            g["nodes"][node] = a
            if cluster is not None:
                cluster["nodes"].append(node)
            assert toks[j] == ";"
            i = j + 1


def render_svg(test, text):
    """`dot -Tsvg` of text: [(class, title, [text lines])] in document order
    for the graph, clusters, nodes and edges. Skips the test (after the
    checks before it ran) when Graphviz is not installed."""
    exe = shutil.which("dot")
    if not exe:
        print("\n  skipped: Graphviz `dot` is not installed (scripts/setup.sh installs it)",
              file=sys.stderr)
        test.skipTest("Graphviz `dot` is not installed")
    # dot is not built with the sanitizers the suite may preload
    env = {k: v for k, v in os.environ.items()
           if k not in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS")}
    p = subprocess.run([exe, "-Tsvg"], input=text.encode(), capture_output=True, env=env,
                       timeout=300)
    err = p.stderr.decode(errors="replace")
    test.assertEqual(p.returncode, 0, err)
    for word in ("syntax error", "utf", "charset"):
        test.assertNotIn(word, err.lower())
    svg = "{http://www.w3.org/2000/svg}"
    items = []
    for el in ET.fromstring(p.stdout).iter(svg + "g"):
        if el.get("class") in ("graph", "cluster", "node", "edge"):
            items.append((el.get("class"), el.find(svg + "title").text,
                          [(t.text or "").replace("\xa0", " ") for t in el.findall(svg + "text")]))
    return items


def visible(s):
    """A snapshot string as asyncsnap's DOT shows it: control characters
    as visible escapes (invalid UTF-8 is already U+FFFD in --json)."""
    esc = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\0": "\ufffd"}
    return "".join(esc.get(c) or ("\\x%02x" % ord(c) if ord(c) < 0x20 or c == "\x7f" else c)
                   for c in s)


def describe(obj):
    """An --json object as `path` and `cycles` name it."""
    t = obj["type"]
    short = t[9:] if t.startswith("builtins.") else t
    name = obj.get("name")
    if not name:
        return short
    if t in ("_asyncio.Task", "asyncio.tasks.Task"):
        return "%s '%s'" % (short, name)
    return "%s %s" % (short, name)


def some_snapshot():
    snaps = fixture_snapshots()
    if not snaps:
        raise unittest.SkipTest("no fixture snapshots")
    return snaps.get("py3.11") or next(iter(snaps.values()))


HOSTILE_PROGRAM = r'''
import asyncio
import sys

import asyncsnap

# Names that break naive DOT and collapsed-stack writers.
Evil = type('E"v;i\nl\\ &lt;x> y\\', (), {})


async def wait(holder):
    holder.task = asyncio.current_task()  # a cycle: task -> coroutine -> holder -> task
    await asyncio.sleep(3600)


wait.__qualname__ = 'w"a;i\nt\\'


async def main(out):
    holder = Evil()
    holder.blob = bytearray(100000)
    task = asyncio.create_task(wait(holder), name='t"a;s\nk\\ &amp;')
    await asyncio.sleep(0)
    print(asyncsnap.take(out, values=True))  # the hostile task name too
    task.cancel()


asyncio.run(main(sys.argv[1]))
'''


def take_hostile(test):
    """Run HOSTILE_PROGRAM under the agent; the snapshot's path."""
    python, env = agent_python()
    prog = test.write("hostile.py", HOSTILE_PROGRAM.encode())
    snap = test.path("hostile.snap")
    p = subprocess.run([python, prog, snap], capture_output=True, text=True, env=env,
                       timeout=300)
    test.assertEqual(p.returncode, 0, p.stderr)
    return snap


EVIL_TYPE = '__main__.E"v;i\nl\\ &lt;x> y\\'
EVIL_TASK = "_asyncio.Task 't\"a;s\nk\\ &amp;'"


def crafted_snapshot(test):
    """A snapshot written byte by byte (tests/corrupt/make-corpus.py) with
    strings the agent never writes: invalid UTF-8, NUL, U+2028. A dict
    root -> evil -> task -> coroutine -> evil (a cycle), and a garbage
    object."""
    spec = importlib.util.spec_from_file_location(
        "make_corpus", os.path.join(ROOT, "tests", "corrupt", "make-corpus.py"))
    corpus = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(corpus)
    s = corpus.Snap()
    # ids 1..17 are Snap's: 1 dict, 3 coroutine, 4 _asyncio.Task, 6 "coroutine",
    # 7 "task", 8 "qualname", 10 "state", 11 "PENDING", 12 "sys.modules", 14 "coro", 15 "name"
    s.strings += [b'evil.T"y;p\ne\\ &lt;<x>\xff\xfe end\xe2\x80\xa8sep\x00nul',  # 18
                  b'la"b;e\\l\n\xc3',                                            # 19
                  b'co"ro;\nq\\\xff',                                            # 20
                  b'Ta"sk;\n\\\x80']                                             # 21
    s.nodes = [(1, 100, 1, 1, [(1, 0, 19)]),
               (18, 1000, 2, 1, [(2, 0, 7)]),
               (4, 200, 1, 1, [(3, 0, 14)]),
               (3, 300, 1, 1, [(1, 0, 19)]),
               (18, 50, 1, 1, [(4, 0, 0), (1, 1, 19)])]
    s.records = [(2, 7, [(10, b"\x04" + corpus.varint(11)), (15, b"\x04" + corpus.varint(21))]),
                 (3, 6, [(8, b"\x04" + corpus.varint(20))])]
    s.roots = [(0, 12, 0)]
    return test.write("crafted.snap", s.file())


class DotTest(TempDirTest):
    def export(self, *args):
        p = run("export", "--format", "dot", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        return p.stdout

    def check_path(self, text, pj, shown=None):
        """The DOT of a path is the chain `path --json` gives. shown: how
        some nodes' names appear when not as in --json ({addr: name})."""
        g = parse_dot(text)
        steps = pj["path"]
        ids = [s["addr"] for s in steps]
        names = {s["addr"]: visible(describe(s)) for s in steps}
        names.update(shown or {})
        self.assertEqual(set(g["nodes"]), set(ids) | {"root"})
        self.assertEqual(g["nodes"]["root"]["label"], ["root: " + visible(pj["root"]["description"])])
        for s in steps:
            label = g["nodes"][s["addr"]]["label"]
            self.assertEqual(label[:2], [names[s["addr"]], s["addr"]])
            self.assertIn("retains", label[2])
        self.assertIn("fillcolor", g["nodes"][pj["target"]["addr"]])
        want = [("root", ids[0], None)] + [
            (ids[i], ids[i + 1], None if steps[i + 1]["label"] is None else [visible(steps[i + 1]["label"])])
            for i in range(len(steps) - 1)]
        self.assertEqual([(a, b, e.get("label")) for a, b, e in g["edges"]], want)
        self.assertIn(pj["target"]["addr"], g["label"][0])
        # Graphviz draws it: every node, and the labels in the chain's order
        svg = render_svg(self, text)
        titles = {t: lines for cls, t, lines in svg if cls == "node"}
        for s in steps:
            self.assertEqual(titles[s["addr"]][:2], [names[s["addr"]], s["addr"]])
        edges = [(t, lines) for cls, t, lines in svg if cls == "edge"]
        self.assertEqual([t for t, _ in edges], ["%s->%s" % (a, b) for a, b, _ in want])
        self.assertEqual([lines for _, lines in edges if lines],
                         [[visible(s["label"])] for s in steps[1:] if s["label"] is not None])
        return g

    def test_dot_of_a_path_is_the_chain_path_finds_and_renders(self):
        snap = some_snapshot()
        pj = run_json("path", "--json", "--type", "__main__.Session", snap)
        by_type = self.export("--type", "__main__.Session", snap)
        self.check_path(by_type, pj)
        # the same object by address: the same graph; -o writes the same bytes
        addr = pj["target"]["addr"]
        self.assertEqual(self.export(snap, addr), by_type)
        out = self.path("path.dot")
        self.export("-o", out, snap, addr)
        with open(out) as f:
            self.assertEqual(f.read(), by_type)
        # the object that retains the most, whatever it is
        top = run_json("dominators", "--json", "--top", "1", snap)["top"][0]
        self.check_path(self.export(snap, top["addr"]), run_json("path", "--json", snap, top["addr"]))

    def test_dot_of_cycles_is_what_cycles_reports_and_renders(self):
        snaps = fixture_snapshots()
        if not snaps:
            self.skipTest("no fixture snapshots")
        for name, snap in snaps.items():
            with self.subTest(name):
                cycles = run_json("cycles", "--json", snap)["cycles"]
                text = self.export(snap)
                g = parse_dot(text)
                text_cycles = run("cycles", snap).stdout
                self.assertEqual(len(g["clusters"]), len(cycles))
                for i, (cl, cy) in enumerate(zip(g["clusters"], cycles), 1):
                    # titled as `cycles` titles it
                    title = cl["label"][0]
                    self.assertEqual([title], cl["label"])
                    self.assertTrue(title.startswith("cycle %d: " % i), title)
                    self.assertIn(" %d objects" % cy["size"], title)
                    if cy.get("count", 1) > 1:
                        self.assertIn("%d cycles of this shape" % cy["count"], title)
                    self.assertEqual("garbage" in title, cy["garbage"], title)
                    self.assertIn(title, text_cycles)
                    ids = ["%d:%s" % (i, n["addr"]) for n in cy["nodes"]]
                    self.assertEqual(cl["nodes"], ids)
                    for node, obj in zip(ids, cy["nodes"]):
                        self.assertEqual(g["nodes"][node]["label"][:2],
                                         [visible(describe(obj)), obj["addr"]])
                    want = [(ids[k], ids[(k + 1) % len(ids)],
                             None if cy["labels"][k] is None else [visible(cy["labels"][k])])
                            for k in range(len(ids))]
                    self.assertEqual([(a, b, e.get("label")) for a, b, e in cl["edges"]], want)
                svg = render_svg(self, text)
                clusters = [lines for cls, _, lines in svg if cls == "cluster"]
                self.assertEqual(clusters, [cl["label"] for cl in g["clusters"]])
                edge_labels = [lines for cls, _, lines in svg if cls == "edge" and lines]
                self.assertEqual(edge_labels, [[visible(l)] for cy in cycles for l in cy["labels"]
                                               if l is not None])

    def test_no_cycles_is_an_empty_graph_that_renders(self):
        chain = os.path.join(ROOT, "fixtures", "corrupt", "shape-deep-chain.snap")
        if not os.path.exists(chain):
            self.skipTest("no corrupt corpus")
        p = run("export", "--format", "dot", chain)
        self.assertEqual(p.returncode, 0, p.stderr)
        g = parse_dot(p.stdout)
        self.assertEqual((g["nodes"], g["clusters"]), ({}, []))
        self.assertIn("no reference cycles", g["label"][0])
        render_svg(self, p.stdout)

    def test_hostile_names_from_a_program_stay_text(self):
        snap = take_hostile(self)
        # the chain to the object of the hostile type, named by that type
        pj = run_json("path", "--json", "--type", EVIL_TYPE, snap)
        self.assertEqual(pj["target"]["type"], EVIL_TYPE)
        self.check_path(self.export("--type", EVIL_TYPE, snap), pj)
        # the cycle task -> coroutine -> holder -> task, every name intact
        cycles = run_json("cycles", "--json", snap)["cycles"]
        text = self.export(snap)
        g = parse_dot(text)
        shown = {tuple(a["label"][:1]) for a in g["nodes"].values()}
        self.assertIn((visible(EVIL_TASK),), shown)
        self.assertIn((visible(EVIL_TYPE),), shown)
        self.assertIn((visible('coroutine w"a;i\nt\\'),), shown)
        self.assertEqual(len(g["clusters"]), len(cycles))
        svg_lines = {line for _, _, lines in render_svg(self, text) for line in lines}
        for want in (EVIL_TASK, EVIL_TYPE, 'coroutine w"a;i\nt\\'):
            self.assertIn(visible(want), svg_lines)

    def test_invalid_utf8_nul_and_line_separators_stay_text(self):
        snap = crafted_snapshot(self)
        shown_type = visible('evil.T"y;p\ne\\ &lt;<x>\ufffd\ufffd end\u2028sep')  # cut at the NUL
        shown_label = visible('la"b;e\\l\n\ufffd')
        # the chain to the coroutine: root dict -[label]-> evil -[task]-> Task -[coro]-> coroutine
        addr = "0x7f00000010c0"
        pj = run_json("path", "--json", snap, addr)
        text = self.export(snap, addr)
        # names are cut at a NUL, as `path` prints them (--json keeps the rest)
        g = self.check_path(text, pj, {"0x7f0000001040": shown_type})
        self.assertEqual(g["edges"][1][2]["label"], [shown_label])
        self.assertEqual(g["nodes"]["0x7f0000001080"]["label"][0], visible("_asyncio.Task 'Ta\"sk;\n\\\ufffd'"))
        self.assertEqual(g["nodes"][addr]["label"][0], visible('coroutine co"ro;\nq\\\ufffd'))
        # the cycle through the task and the coroutine
        text = self.export(snap)
        g = parse_dot(text)
        self.assertEqual(len(g["clusters"]), 1)
        self.assertEqual(len(g["clusters"][0]["nodes"]), 3)
        self.assertIn([shown_label], [e.get("label") for _, _, e in g["edges"]])
        svg_lines = {line for _, _, lines in render_svg(self, text) for line in lines}
        self.assertIn(shown_type, svg_lines)
        self.assertIn(shown_label, svg_lines)


# ---- collapsed stacks -----------------------------------------------------

COLLAPSED_LINE = re.compile(r"^([^\n]+) ([0-9]+)$")


def sanitize(s):
    """A snapshot string as a frame shows it."""
    return "".join("_" if c == ";" or ord(c) <= 0x20 or c in "\x7f\x85\u2028\u2029" else c
                   for c in s)


def frame_of(obj):
    """The frame of an --json object directly under the roots (no label)."""
    t = obj["type"]
    short = sanitize(t[9:] if t.startswith("builtins.") and len(t) > 9 else t) or "?"
    name = obj.get("name")
    if not name:
        return short
    if t in ("_asyncio.Task", "asyncio.tasks.Task"):
        return "%s '%s'" % (short, sanitize(name))
    return "%s %s" % (short, sanitize(name))


def group_of(obj):
    if obj["garbage"]:
        return "(unreachable)"
    if obj["root"]:
        return "(root: %s)" % sanitize(obj["root"])
    return "(several roots)"


class CollapsedTest(TempDirTest):
    def collapsed(self, *args):
        """`export --format collapsed ARGS`, checked line by line:
        [(frames, bytes)]."""
        p = run("export", "--format", "collapsed", *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "")
        self.assertTrue(p.stdout.endswith("\n") or not p.stdout)
        # one record a line, whatever a reader takes for a line break
        self.assertEqual(len(p.stdout.splitlines()), p.stdout.count("\n"))
        stacks = []
        for line in p.stdout.splitlines():
            m = COLLAPSED_LINE.match(line)
            self.assertTrue(m, repr(line))
            frames = m.group(1).split(";")
            self.assertTrue(all(frames), repr(line))
            self.assertTrue(all(f == f.strip() for f in frames), repr(line))
            self.assertGreater(int(m.group(2)), 0, line)
            self.assertRegex(frames[0], r"^\((root: .+|several roots|unreachable)\)$")
            stacks.append((tuple(frames), int(m.group(2))))
        # identical stacks are added up into one line
        self.assertEqual(len({f for f, _ in stacks}), len(stacks))
        return stacks

    def test_stacks_add_up_to_the_dominator_tree(self):
        snaps = fixture_snapshots()
        if not snaps:
            self.skipTest("no fixture snapshots")
        for name, snap in snaps.items():
            with self.subTest(name):
                stacks = self.collapsed(snap)
                d = run_json("dominators", "--json", "--top", "100000", "--depth", "1", snap)
                info = run_json("info", "--json", snap)
                # every byte of the snapshot once, garbage under (unreachable)
                self.assertEqual(sum(v for _, v in stacks), d["bytes"])
                self.assertEqual(d["bytes"], info["bytes"])
                garbage = sum(v for f, v in stacks if f[0] == "(unreachable)")
                self.assertEqual(garbage, sum(o["retained"] for o in d["tree"] if o["garbage"]))
                self.assertGreaterEqual(garbage, d["unreachable"]["bytes"])
                # the width of each stack of two frames is the retained size of
                # the objects directly under the roots it stands for
                want = collections.Counter()
                self.assertLess(len(d["tree"]), 100000)
                for obj in d["tree"]:
                    want[(group_of(obj), frame_of(obj))] += obj["retained"]
                got = collections.Counter()
                for frames, v in stacks:
                    got[frames[:2]] += v
                self.assertEqual(+got, +want)

    def test_output_file_holds_the_same_stacks(self):
        snap = some_snapshot()
        out = self.path("stacks.txt")
        p = run("export", "--format", "collapsed", "-o", out, snap)
        self.assertEqual((p.returncode, p.stdout), (0, ""), p.stderr)
        with open(out) as f:
            self.assertEqual(f.read(), run("export", "--format", "collapsed", snap).stdout)

    def test_big_retainer_stack_is_as_wide_as_it_retains(self):
        python, env = agent_python()
        snap = self.path("big_list.snap")
        p = subprocess.run([python, os.path.join(ROOT, "fixtures", "programs", "big_list.py"), snap],
                           capture_output=True, text=True, env=env, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr)
        big = run_json("dominators", "--json", "--type", "builtins.list", "--top", "1", snap)["top"][0]
        self.assertGreaterEqual(big["retained"], 10 * 1000 * 1000)
        stacks = self.collapsed(snap)
        prefixes = {f[:f.index("list (payloads)") + 1] for f, _ in stacks if "list (payloads)" in f}
        self.assertEqual(len(prefixes), 1, prefixes)
        prefix = prefixes.pop()
        self.assertEqual(sum(v for f, v in stacks if f[:len(prefix)] == prefix), big["retained"])
        # its thousand bytes objects, held by index, are one frame of their own
        self.assertIn(prefix + ("bytes",), {f for f, _ in stacks})

    def test_hostile_names_from_a_program_stay_one_frame(self):
        snap = take_hostile(self)
        stacks = self.collapsed(snap)
        self.assertEqual(sum(v for _, v in stacks), run_json("info", "--json", snap)["bytes"])
        evil = run_json("dominators", "--json", "--type", EVIL_TYPE, "--top", "1", snap)["top"][0]
        frame = sanitize(EVIL_TYPE)
        self.assertEqual(frame, '__main__.E"v_i_l\\_&lt_x>_y\\')
        prefixes = {f[:i + 1] for f, _ in stacks for i, x in enumerate(f) if x.startswith(frame)}
        self.assertEqual(len(prefixes), 1, prefixes)
        prefix = prefixes.pop()
        self.assertEqual(sum(v for f, v in stacks if f[:len(prefix)] == prefix), evil["retained"])
        # the attribute's object; behind the instance dict on 3.9 and 3.10
        self.assertTrue({prefix + ("bytearray (blob)",), prefix + ("dict (__dict__)", "bytearray (blob)")}
                        & {f for f, _ in stacks}, prefix)
        names = {x for f, _ in stacks for x in f}
        self.assertIn("_asyncio.Task 't\"a_s_k\\_&amp_'", names)

    def test_invalid_utf8_nul_and_line_separators_are_sanitized(self):
        snap = crafted_snapshot(self)
        evil = 'evil.T"y_p_e\\_&lt_<x>\ufffd\ufffd_end_sep_nul'
        top = ("(root: sys.modules)", "dict")
        chain = top + (evil + ' (la"b_e\\l_\ufffd)',)
        self.assertEqual(sorted(self.collapsed(snap)), sorted([
            (top, 100),
            (chain, 1000),
            (chain + ("_asyncio.Task 'Ta\"sk__\\\ufffd' (task)",), 200),
            (chain + ("_asyncio.Task 'Ta\"sk__\\\ufffd' (task)", 'coroutine co"ro__q\\\ufffd (coro)'), 300),
            (("(unreachable)", evil), 50),
        ]))

    def test_depth_limit_folds_the_rest_into_one_frame(self):
        chain = os.path.join(ROOT, "fixtures", "corrupt", "shape-deep-chain.snap")
        if not os.path.exists(chain):
            self.skipTest("no corrupt corpus")
        # 300000 dicts of 16 bytes, each holding the next
        stacks = self.collapsed(chain)
        self.assertEqual(sum(v for _, v in stacks), 300000 * 16)
        self.assertEqual(max(len(f) for f, _ in stacks), 1 + 256 + 1)
        self.assertEqual(stacks[-1], (("(root: sys.modules)",) + ("dict",) * 256 + ("(deeper)",),
                                      (300000 - 256) * 16))
        top = ("(root: sys.modules)",)
        self.assertEqual(self.collapsed("--depth", "3", chain), [
            (top + ("dict",), 16), (top + ("dict",) * 2, 16), (top + ("dict",) * 3, 16),
            (top + ("dict",) * 3 + ("(deeper)",), (300000 - 3) * 16)])


class ExportUsageTest(TempDirTest):
    def test_help_describes_every_format(self):
        p = run("export", "--help")
        self.assertEqual(p.returncode, 0)
        for word in ("--format heapsnapshot", "--format dot", "--format collapsed", "--type",
                     "--depth", "flamegraph.pl", "speedscope", "dot -Tsvg"):
            self.assertIn(word, p.stdout)

    def test_usage_errors_exit_2_and_point_to_help(self):
        snap = some_snapshot()
        for args, words in (
                (["--format", "svg", snap], "unknown format"),
                (["--format", "heapsnapshot", snap, "0x1"], "only for --format dot"),
                (["--format", "collapsed", snap, "0x1"], "only for --format dot"),
                (["--format", "dot", "--type", "list", snap, "0x1"], "not both"),
                (["--format", "dot", snap, "0x1", "0x2"], "too many"),
                (["--format", "dot", snap, "12345"], "looks like 0x"),
                (["--format", "dot", snap, "0x"], "looks like 0x"),
                (["--format", "collapsed", "--type", "list", snap], "--type is only"),
                (["--format", "heapsnapshot", "--type", "list", snap], "--type is only"),
                (["--format", "dot", "--depth", "3", snap], "--depth is only"),
                (["--format", "collapsed", "--depth", "0", snap], "--depth"),
                (["--format", "collapsed", "--depth", "x", snap], "--depth"),
                (["--format", "collapsed", "--depth", "-1", snap], "--depth"),
                (["--format", "collapsed", "--depth", "10001", snap], "--depth"),
                (["--format", "dot"], "snapshot file is required"),
                (["--format", "dot", "--type"], "needs a value"),
                (["--format", "collapsed", "--bogus", snap], "unknown option")):
            with self.subTest(args):
                p = run("export", *args)
                self.assertEqual(p.returncode, 2, p.stderr)
                lines = p.stderr.strip().splitlines()
                self.assertTrue(lines[0].startswith("asyncsnap export: "), p.stderr)
                self.assertIn(words, lines[0])
                self.assertIn("--help", p.stderr)
                self.assertEqual(p.stdout, "")

    def test_missing_objects_are_one_line_errors_and_leave_no_file(self):
        snap = some_snapshot()
        out = self.path("out.dot")
        for args, words in ((["--format", "dot", "-o", out, snap, "0x1"], ["no object at 0x1"]),
                            (["--format", "dot", "-o", out, "--type", "no.SuchType", snap],
                             ["no object of type", "no.SuchType"])):
            with self.subTest(args):
                self.assertInputError(run("export", *args), snap, *words)
                self.assertEqual(os.listdir(self.dir), [])
        with open(snap, "rb") as f:
            data = f.read()
        cut = self.write("cut.snap", data[: len(data) // 2])
        for fmt in ("dot", "collapsed"):
            self.assertInputError(run("export", "--format", fmt, cut), cut, "truncated")
