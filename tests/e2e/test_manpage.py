"""The man page, docs/asyncsnap.1, against the command it documents: every
command `asyncsnap --help` lists has a section, every long option its
`--help` prints is described in that section, and the page renders without
a warning."""

import os
import re
import shutil
import subprocess
import unittest

from e2e import ROOT, run

PAGE = os.path.join(ROOT, "docs", "asyncsnap.1")


def page_source():
    with open(PAGE, encoding="utf-8") as f:
        return f.read()


def plain(roff):
    """Roff source as the words a reader sees: escapes for hyphens and
    fonts resolved, comments dropped."""
    lines = [line for line in roff.splitlines() if not line.startswith(('.\\"', "'\\\""))]
    text = "\n".join(lines)
    text = re.sub(r"\\f(\[[^]]*\]|\(..|.)", "", text)  # font changes
    text = text.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")
    return text


def sections(roff):
    """{name: the tags of its .TP items} of the subsections (.SS) of the
    COMMANDS section: an option is described when it heads an item."""
    m = re.search(r"^\.SH COMMANDS$(.*?)^\.SH ", roff, re.M | re.S)
    if not m:
        return {}
    out = {}
    for part in re.split(r"^\.SS ", m.group(1), flags=re.M)[1:]:
        name, _, body = part.partition("\n")
        tags = re.findall(r"^\.TP[^\n]*\n([^\n]*)", body, re.M)
        out[name.strip().strip('"')] = plain("\n".join(tags))
    return out


def commands():
    """The commands `asyncsnap --help` lists."""
    p = run("--help")
    if p.returncode != 0:
        raise AssertionError("asyncsnap --help failed: " + p.stderr)
    m = re.search(r"^commands:\n((?:  \S.*\n)+)", p.stdout, re.M)
    if not m:
        raise AssertionError("no commands: list in asyncsnap --help:\n" + p.stdout)
    return [line.split()[0] for line in m.group(1).splitlines()]


def long_options(text):
    return sorted(set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text)))


def help_options(text):
    """The long options of a `--help` text: those of its usage lines and
    those that start a line of its option list (not the ones its examples
    pass to other programs, as in `python server.py --port 8080`)."""
    opts = set(long_options(text.split("\n\n")[0]))
    for line in text.splitlines():
        m = re.match(r"\s+(?:-\w, )?(--[a-z][a-z0-9-]*)", line)
        if m:
            opts.add(m.group(1))
    return sorted(opts)


class ManPageTest(unittest.TestCase):
    def test_every_command_has_a_section(self):
        documented = sections(page_source())
        self.assertTrue(documented, "no .SH COMMANDS with .SS subsections")
        listed = commands()
        self.assertGreaterEqual(len(listed), 10, listed)
        for cmd in listed:
            with self.subTest(command=cmd):
                self.assertIn(cmd, documented, "asyncsnap %s has no .SS section" % cmd)
        for cmd in documented:
            with self.subTest(section=cmd):
                self.assertIn(cmd, listed, "the man page documents '%s', which --help does not list" % cmd)

    def test_every_long_option_is_described_under_its_command(self):
        documented = sections(page_source())
        for cmd in commands():
            p = run(cmd, "--help")
            self.assertEqual(p.returncode, 0, (cmd, p.stderr))
            options = help_options(p.stdout)
            self.assertIn("--help", options, cmd)
            options.remove("--help")  # described once, under OPTIONS
            for opt in options:
                with self.subTest(command=cmd, option=opt):
                    self.assertIn(cmd, documented)
                    self.assertRegex(documented[cmd], r"(?<![\w-])%s(?![\w-])" % re.escape(opt),
                                     "asyncsnap %s %s is not described (a .TP item) in its man page "
                                     "section" % (cmd, opt))

    def test_every_option_in_help_is_accepted_and_every_documented_one_is_in_help(self):
        # an option --help shows is one the command takes (parsed, then --help
        # after it prints the help: nothing runs), wherever it stands among
        # the operands; and every option the man page describes for a
        # command is one its --help shows
        import tempfile
        scratch = tempfile.mkdtemp(prefix="asnap-opts-")
        self.addCleanup(shutil.rmtree, scratch, True)
        os.chmod(scratch, 0o700)
        values = {"N": "1", "D": "1", "K": "1", "S": "1", "MB": "100", "SIZE": "1G",
                  "FILE": os.path.join(scratch, "out"), "DIR": scratch, "T": "list",
                  "F": "dot", "LIST": "frame-cycle", "SIG": "USR1"}
        documented = sections(page_source())
        for cmd in commands():
            text = run(cmd, "--help").stdout
            in_help = help_options(text)
            for line in text.splitlines():
                m = re.match(r"\s+(?:-\w, )?(--[a-z][a-z0-9-]*)(?: ([A-Z]+))?(?:\s|$)", line)
                if not m or m.group(1) == "--help":
                    continue
                opt, arg = m.group(1), m.group(2)
                argv = [cmd, opt] + ([values.get(arg, "x")] if arg else []) + ["--help"]
                with self.subTest(command=cmd, option=opt):
                    p = run(*argv)
                    self.assertEqual(p.returncode, 0, (argv, p.stderr))
                    self.assertTrue(p.stdout.startswith("usage: asyncsnap " + cmd), p.stdout[:200])
            for opt in long_options(documented.get(cmd, "")):
                with self.subTest(command=cmd, documented=opt):
                    self.assertIn(opt, in_help, "the man page describes asyncsnap %s %s, "
                                  "which its --help does not show" % (cmd, opt))

    def test_options_after_operands(self):
        # options anywhere among the operands, `--` ends them
        for argv in (("dominators", "missing.snap", "--top", "5"),
                     ("leaks", "missing.snap", "--json"),
                     ("report", "a.snap", "b.snap", "-o", "page.html")):
            p = run(*argv)
            self.assertEqual(p.returncode, 2, argv)
            self.assertIn("cannot read '%s'" % argv[1], p.stderr, argv)
        p = run("info", "--", "--json")
        self.assertEqual(p.returncode, 2)
        self.assertIn("cannot read '--json'", p.stderr)

    def test_every_check_is_described(self):
        # leaks --help lists the checks from the checks' own table
        p = run("leaks", "--help")
        listed = re.findall(r"^  ([a-z]+(?:-[a-z]+)+)  ", p.stdout.split("checks (")[1], re.M)
        self.assertEqual(len(listed), 7, p.stdout)
        leaks = sections(page_source())["leaks"]
        with open(os.path.join(ROOT, "docs", "CHECKS.md")) as f:
            checks_md = f.read()
        for name in listed:
            with self.subTest(check=name):
                self.assertRegex(leaks, r"(?m)^\.B %s$" % re.escape(name))
                self.assertIn("`%s`" % name, checks_md)

    def test_top_level_options(self):
        text = plain(page_source())
        for opt in long_options(run("--help").stdout):
            self.assertIn(opt, text)
        self.assertIn("--version", text)
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "EXIT STATUS",
                        "ENVIRONMENT", "FILES", "EXAMPLES", "SEE ALSO"):
            self.assertRegex(page_source(), r'(?m)^\.SH "?%s"?$' % section)

    def test_renders_without_warnings(self):
        groff = shutil.which("groff")
        man = shutil.which("man")
        if groff:
            cmd = [groff, "-man", "-ww", "-z", "-Tutf8", PAGE]
        elif man:
            cmd = [man, "--warnings", "-l", PAGE]
        else:
            self.skipTest("neither groff nor man is installed")
        env = dict(os.environ, MANWIDTH="80", LC_ALL="C.UTF-8", MANPAGER="cat", PAGER="cat")
        # under the sanitized suite, not groff's business
        for var in ("LD_PRELOAD", "ASAN_OPTIONS", "UBSAN_OPTIONS"):
            env.pop(var, None)
        p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stderr, "", "%s warns:\n%s" % (" ".join(cmd), p.stderr))

    def test_version_matches_the_command(self):
        v = run("--version").stdout.split()[1]
        th = re.search(r"^\.TH .*$", page_source(), re.M).group(0)
        self.assertIn('"asyncsnap %s"' % v, th)


if __name__ == "__main__":
    unittest.main()
