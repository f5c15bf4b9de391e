"""scripts/check-deps against lists with something missing: it fails, with one line naming the
Debian package, and passes on a list whose entries are all present."""
import os
import subprocess
import sys
import tempfile
import unittest

CHECK = sys.argv.pop(1)


def run(list_text):
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(list_text)
    try:
        env = dict(os.environ, VITALSD_TEST_DEPS=f.name)
        return subprocess.run(["/usr/bin/python3", CHECK], env=env, capture_output=True, text=True)
    finally:
        os.unlink(f.name)


class CheckDeps(unittest.TestCase):
    def test_present_passes(self):
        r = run("python json python3\nprogram /usr/bin/python3 python3\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stderr, "")

    def test_missing_module_names_its_package(self):
        r = run("python json python3\npython vitalsd_no_such_module python3-vitalsd-nope\n")
        self.assertEqual(r.returncode, 1)
        lines = r.stderr.strip().splitlines()
        self.assertEqual(len(lines), 1, r.stderr)
        self.assertIn("vitalsd_no_such_module", lines[0])
        self.assertIn("install Debian package python3-vitalsd-nope", lines[0])

    def test_module_failing_on_its_own_import_names_that_package(self):
        # A module that imports something missing (python3-pymodbus without
        # python3-serial-asyncio): the line names the package of the missing one.
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "outer_mod.py"), "w") as f:
                f.write("import vitalsd_inner_missing\n")
            env_path = os.environ.get("PYTHONPATH", "")
            os.environ["PYTHONPATH"] = d
            try:
                r = run("python outer_mod python3-outer\n"
                        "python vitalsd_inner_missing python3-inner\n")
            finally:
                os.environ["PYTHONPATH"] = env_path
        self.assertEqual(r.returncode, 1)
        first = r.stderr.strip().splitlines()[0]
        self.assertIn("outer_mod", first)
        self.assertIn("install Debian package python3-inner", first)

    def test_missing_program_names_its_package(self):
        prog = "/usr/bin" + "/vitalsd-no-such-program"  # split: deps.list scans this file
        r = run(f"program {prog} vitalsd-nope\n")
        self.assertEqual(r.returncode, 1)
        self.assertIn(f"{prog} not found: install Debian package vitalsd-nope", r.stderr)

    def test_malformed_list_is_named_with_its_line(self):
        r = run("# a comment\npython only-two\n")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(":2:", r.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
