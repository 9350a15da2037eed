"""What a user gets from `meson install` and from `pip install .`, used the
way a user uses it.

MesonInstallTest installs this build (`meson install --no-rebuild`) into a
temporary DESTDIR and checks every installed part: the command runs, the man
page and the headers are there, a C program built with `pkg-config --cflags
--libs asyncsnap` reads a fixture snapshot with the installed library, and
the installed agent (imported from there alone) writes a snapshot the
installed command reads, also through `asyncsnap run`.

PipInstallTest copies the source tree (without build directories: pip and
meson-python write into the tree they build) and installs it with Debian's
pip and meson-python into a fresh venv, offline (--no-build-isolation
--no-index); then the venv's `import asyncsnap` and `asyncsnap` command
work together, and the wheel holds no headers, library or pkg-config file.
Skipped, with the reason, when /usr/bin/python3 lacks meson-python, pip or
its C headers.

Run by tests/meson.build (suite 'install'), which sets:
  ASYNCSNAP_BUILD_ROOT   the build directory to install
  ASYNCSNAP_SOURCE_ROOT  the source tree
  ASYNCSNAP_PYTHON       the interpreter the agent was built for ('' if none)
  MESON, ASYNCSNAP_CC, PKG_CONFIG  the tools ('' when not found)
  ASYNCSNAP_PIP_PYTHON   optional: the interpreter for the pip test
                         (default /usr/bin/python3)
"""

import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

BUILD = os.environ.get("ASYNCSNAP_BUILD_ROOT", "")
SOURCE = os.environ.get("ASYNCSNAP_SOURCE_ROOT") or os.path.dirname(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIXTURE = os.path.join(SOURCE, "fixtures", "snapshots", "py3.11.snap")

# Reads a snapshot with nothing but the installed library and its header:
# prints objects, edges (as `asyncsnap info --json` counts them) and the
# library's version.
READER_C = r"""
#include <inttypes.h>
#include <stdio.h>

#include <asyncsnap/format.h>

int main(int argc, char **argv)
{
	struct asnap_error err;
	struct asnap_item item;
	uint64_t objects = 0, edges = 0;
	int rc;

	if (argc != 2)
		return 2;
	struct asnap_reader *r = asnap_reader_open(argv[1], &err);
	if (!r) {
		fprintf(stderr, "%s: %s\n", argv[1], err.message);
		return 1;
	}
	while ((rc = asnap_reader_next(r, &item, &err)) == 1) {
		if (item.kind == ASNAP_ITEM_NODE) {
			objects++;
			edges += item.u.node.nedges;
		} else if (item.kind == ASNAP_ITEM_EDGES) {
			edges += item.u.edges.nedges;
		}
	}
	asnap_reader_destroy(r);
	if (rc < 0) {
		fprintf(stderr, "%s: %s: %s\n", argv[1], asnap_status_name(err.status), err.message);
		return 1;
	}
	printf("%" PRIu64 " %" PRIu64 " %s\n", objects, edges, asnap_version());
	return 0;
}
"""

# Run by the installed agent's interpreter: take a snapshot, report where
# the package came from.
TAKE_PY = ("import asyncsnap, json, sys; "
           "print(json.dumps({'file': asyncsnap.__file__, 'version': asyncsnap.__version__, "
           "'path': asyncsnap.take(sys.argv[1])}))")

# A program for `asyncsnap run --no-fork`: one snapshot by signal, then exit.
SIGNAL_PY = "import os, signal, time; os.kill(os.getpid(), signal.SIGUSR1); time.sleep(0.2)"


def tool(name):
    value = os.environ.get(name, "")
    return shlex.split(value) if value else None


def clean_env(**extra):
    """The environment minus anything that could point Python or the command
    at the build tree or another installation."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "ASYNCSNAP_", "VIRTUAL_ENV", "PIP_"))}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    env["PYTHONNOUSERSITE"] = "1"
    env.update(extra)
    return env


def run(cmd, timeout=120, **kw):
    kw.setdefault("env", clean_env())
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def project_version():
    with open(os.path.join(BUILD, "meson-info", "intro-projectinfo.json")) as f:
        return json.load(f)["version"]


class Tmp(unittest.TestCase):
    def tmpdir(self, prefix="asnap-install-"):
        d = tempfile.mkdtemp(prefix=prefix)
        self.addCleanup(shutil.rmtree, d, ignore_errors=True)
        return d

    def assertOk(self, proc, what):
        self.assertEqual(proc.returncode, 0, "%s failed (%d):\n%s\n%s"
                         % (what, proc.returncode, proc.stdout[-3000:], proc.stderr[-3000:]))

    def info(self, command, snap):
        p = run([command, "info", "--json", snap])
        self.assertOk(p, "asyncsnap info --json " + snap)
        return json.loads(p.stdout)


class MesonInstallTest(Tmp):
    @classmethod
    def setUpClass(cls):
        meson = tool("MESON")
        if not BUILD or not meson:
            raise unittest.SkipTest("needs ASYNCSNAP_BUILD_ROOT and MESON (run it with meson test)")
        cls.destdir = tempfile.mkdtemp(prefix="asnap-destdir-")
        t0 = time.monotonic()
        p = run(meson + ["install", "-C", BUILD, "--destdir", cls.destdir, "--no-rebuild"],
                timeout=300)
        print("meson install: %.1f s" % (time.monotonic() - t0))
        if p.returncode != 0:
            shutil.rmtree(cls.destdir, ignore_errors=True)
            raise AssertionError("meson install failed (%d):\n%s\n%s"
                                 % (p.returncode, p.stdout[-3000:], p.stderr[-3000:]))
        # what went where: {file in the build or source tree: installed path}
        with open(os.path.join(BUILD, "meson-info", "intro-installed.json")) as f:
            cls.installed = {src: cls.staged(dst) for src, dst in json.load(f).items()}
        for path in cls.installed.values():
            assert os.path.exists(path), "meson install did not install " + path

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.destdir, ignore_errors=True)

    @classmethod
    def staged(cls, path):
        return os.path.join(cls.destdir, os.path.relpath(path, "/"))

    def find(self, suffix):
        """The one installed file whose installed path ends with SUFFIX."""
        hits = [p for p in self.installed.values() if p.endswith(suffix)]
        self.assertEqual(len(hits), 1, "installed files ending in %s: %s" % (suffix, hits))
        return hits[0]

    def command(self):
        return self.find("/bin/asyncsnap")

    def test_command_runs(self):
        cmd = self.command()
        self.assertTrue(os.access(cmd, os.X_OK), cmd)
        p = run([cmd, "--version"])
        self.assertOk(p, "asyncsnap --version")
        self.assertTrue(p.stdout.startswith("asyncsnap %s " % project_version()), p.stdout)
        p = run([cmd, "--help"])
        self.assertOk(p, "asyncsnap --help")
        self.assertEqual(self.info(cmd, FIXTURE)["format"], 1)

    def test_typing_marker_and_stub(self):
        # PEP 561: type checkers read the installed package's annotations
        # and the C extension's stub
        self.find("/asyncsnap/py.typed")
        self.find("/asyncsnap/_agent.pyi")

    def test_man_page(self):
        page = self.find("/share/man/man1/asyncsnap.1")
        with open(page, "rb") as f, open(os.path.join(SOURCE, "docs", "asyncsnap.1"), "rb") as g:
            self.assertEqual(f.read(), g.read())

    def test_headers(self):
        public = sorted(os.listdir(os.path.join(SOURCE, "include", "asyncsnap")))
        header = self.find("/include/asyncsnap/format.h")
        self.assertEqual(sorted(os.listdir(os.path.dirname(header))), public)
        self.assertIn("error.h", public)

    def test_pkg_config_compiles_and_links_a_reader(self):
        pkg_config, cc = tool("PKG_CONFIG"), tool("ASYNCSNAP_CC")
        if not pkg_config or not cc:
            self.skipTest("needs pkg-config and a C compiler")
        pc = self.find("/pkgconfig/asyncsnap.pc")
        # the .pc file names the final prefix: SYSROOT_DIR moves its -I and
        # -L into the DESTDIR (--define-prefix cannot: libdir is multiarch)
        env = clean_env(PKG_CONFIG_PATH=os.path.dirname(pc), PKG_CONFIG_SYSROOT_DIR=self.destdir)
        p = run(pkg_config + ["--cflags", "--libs", "asyncsnap"], env=env)
        self.assertOk(p, "pkg-config --cflags --libs asyncsnap")
        flags = shlex.split(p.stdout)
        self.assertIn("-lasyncsnap", flags)
        self.assertIn("-I" + os.path.dirname(os.path.dirname(self.find("/asyncsnap/format.h"))), flags)
        p = run(pkg_config + ["--modversion", "asyncsnap"], env=env)
        self.assertEqual(p.stdout.strip(), project_version())

        d = self.tmpdir()
        src, exe = os.path.join(d, "reader.c"), os.path.join(d, "reader")
        with open(src, "w") as f:
            f.write(READER_C)
        p = run(cc + ["-std=c11", "-Wall", "-Wextra", "-Wpedantic", "-Werror", "-o", exe, src] + flags)
        self.assertOk(p, "cc reader.c $(pkg-config --cflags --libs asyncsnap)")
        p = run([exe, FIXTURE])
        self.assertOk(p, "reader " + FIXTURE)
        objects, edges, version = p.stdout.split()
        info = self.info(self.command(), FIXTURE)
        self.assertEqual(int(objects), info["objects"])
        self.assertEqual(int(edges), info["edges"])
        self.assertEqual(version, project_version())

    def agent(self):
        """(interpreter, the installed site-packages holding asyncsnap/)."""
        python = os.environ.get("ASYNCSNAP_PYTHON")
        init = [p for p in self.installed.values() if p.endswith("/asyncsnap/__init__.py")]
        if not python or not init:
            self.skipTest("the agent is not built in this configuration")
        return python, os.path.dirname(os.path.dirname(init[0]))

    def test_installed_agent_takes_a_snapshot_the_command_reads(self):
        python, site = self.agent()
        d = self.tmpdir()
        snap = os.path.join(d, "installed.snap")
        p = run([python, "-c", TAKE_PY, snap], cwd=d, env=clean_env(PYTHONPATH=site))
        self.assertOk(p, "import asyncsnap; asyncsnap.take()")
        out = json.loads(p.stdout)
        self.assertTrue(out["file"].startswith(site + os.sep), out["file"])
        self.assertEqual(out["path"], snap)
        self.assertEqual(out["version"], project_version())
        info = self.info(self.command(), snap)
        self.assertGreater(info["objects"], 1000)
        self.assertEqual(info["header"]["pid"] > 0, True)

    def test_installed_command_runs_installed_agent(self):
        python, site = self.agent()
        d = self.tmpdir()
        snaps = os.path.join(d, "snaps")
        os.mkdir(snaps)
        env = clean_env(ASYNCSNAP_AGENT_PATH=site, XDG_RUNTIME_DIR=d)
        p = run([self.command(), "run", "--no-fork", "--dir", snaps, "--", python, "-c", SIGNAL_PY],
                cwd=d, env=env)
        self.assertOk(p, "asyncsnap run")
        files = os.listdir(snaps)
        self.assertEqual(len(files), 1, (files, p.stderr))
        self.assertGreater(self.info(self.command(), os.path.join(snaps, files[0]))["objects"], 1000)


class PipInstallTest(Tmp):
    python = os.environ.get("ASYNCSNAP_PIP_PYTHON") or "/usr/bin/python3"

    def setUp(self):
        if not os.access(self.python, os.X_OK):
            self.skipTest("no %s" % self.python)
        probe = ("import importlib.util as u, sysconfig, os; "
                 "print(*[m for m in ('mesonpy', 'pip', 'venv') if not u.find_spec(m)]); "
                 "print(os.path.exists(os.path.join(sysconfig.get_paths()['include'], 'Python.h')))")
        p = run([self.python, "-c", probe])
        self.assertOk(p, self.python)
        missing, has_headers = p.stdout.splitlines()
        if missing:
            self.skipTest("%s lacks %s (Debian: python3-mesonpy python3-pip python3-venv)"
                          % (self.python, missing))
        if has_headers != "True":
            self.skipTest("%s has no Python.h (Debian: python3-dev)" % self.python)

    @staticmethod
    def copy_ignore(directory, names):
        """Leave out build directories (any meson build tree), VCS data and
        the by-products of an earlier pip or meson-python run."""
        skip = {n for n in names
                if n in (".git", "example-out", "__pycache__")
                or n.startswith(".mesonpy")
                or n.endswith((".pyc", ".egg-info"))
                or os.path.exists(os.path.join(directory, n, "meson-private"))}
        return skip

    def test_pip_install_builds_the_agent_and_the_command(self):
        d = self.tmpdir(prefix="asnap-pip-")
        src, venv = os.path.join(d, "src"), os.path.join(d, "venv")
        shutil.copytree(SOURCE, src, ignore=self.copy_ignore, symlinks=True)

        p = run([self.python, "-m", "venv", "--system-site-packages", "--without-pip", venv])
        self.assertOk(p, "python3 -m venv")
        vpython, vcommand = os.path.join(venv, "bin", "python"), os.path.join(venv, "bin", "asyncsnap")

        t0 = time.monotonic()
        env = clean_env(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_CACHE_DIR="1")
        p = run([vpython, "-m", "pip", "install", "--no-build-isolation", "--no-index",
                 "--root-user-action=ignore", src], timeout=900, env=env)
        print("pip install (configure, build, wheel, install): %.1f s" % (time.monotonic() - t0))
        self.assertOk(p, "pip install --no-build-isolation --no-index")
        # nothing of the build must survive in the copied tree's place: the
        # command below must find the agent where pip put it
        shutil.rmtree(src)

        p = run([vpython, "-c", "import sysconfig; print(sysconfig.get_paths()['platlib'])"])
        self.assertOk(p, "venv python")
        site = p.stdout.strip()
        self.assertTrue(site.startswith(venv + os.sep), site)

        # the wheel: the package with its extension, the command; no headers,
        # static library, pkg-config file or man page
        dist = [n for n in os.listdir(site) if n.startswith("asyncsnap-") and n.endswith(".dist-info")]
        self.assertEqual(len(dist), 1, os.listdir(site))
        with open(os.path.join(site, dist[0], "RECORD")) as f:
            record = [line.split(",")[0] for line in f if line.strip()]
        self.assertIn("asyncsnap/__init__.py", record)
        self.assertIn("asyncsnap/_boot/sitecustomize.py", record)
        self.assertTrue([r for r in record if r.startswith("asyncsnap/_agent.") and r.endswith(".so")], record)
        self.assertTrue([r for r in record if r.endswith("/bin/asyncsnap")], record)
        for r in record:
            self.assertFalse(r.endswith((".h", ".a", ".pc", ".1")), r)
        # the pytest plugin, found by pytest through its entry point
        self.assertIn("asyncsnap/pytest.py", record)
        self.assertIn("asyncsnap/testing.py", record)
        # typed (PEP 561): the marker, and the C extension's stub
        self.assertIn("asyncsnap/py.typed", record)
        self.assertIn("asyncsnap/_agent.pyi", record)
        p = run([vpython, "-c", "from importlib.metadata import entry_points; "
                 "print([e.value for e in entry_points(group='pytest11') if e.name == 'asyncsnap'])"])
        self.assertOk(p, "venv: the pytest11 entry point")
        self.assertEqual(p.stdout.strip(), "['asyncsnap.pytest']")

        p = run([vcommand, "--version"])
        self.assertOk(p, "venv/bin/asyncsnap --version")
        work = os.path.join(d, "work")
        os.mkdir(work)
        snap = os.path.join(work, "pip.snap")
        p = run([vpython, "-c", TAKE_PY, snap], cwd=work)
        self.assertOk(p, "venv: import asyncsnap; asyncsnap.take()")
        out = json.loads(p.stdout)
        self.assertTrue(out["file"].startswith(site + os.sep), out["file"])
        info = self.info(vcommand, snap)
        self.assertGreater(info["objects"], 1000)
        self.assertEqual(info["header"]["executable"], vpython)

        # the venv's command finds the venv's agent by itself
        snaps = os.path.join(work, "snaps")
        os.mkdir(snaps)
        p = run([vcommand, "run", "--no-fork", "--dir", snaps, "--", vpython, "-c", SIGNAL_PY],
                cwd=work, env=clean_env(XDG_RUNTIME_DIR=work))
        self.assertOk(p, "venv/bin/asyncsnap run")
        self.assertEqual(len(os.listdir(snaps)), 1, p.stderr)


if __name__ == "__main__":
    unittest.main()
