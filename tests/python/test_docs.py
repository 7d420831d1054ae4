"""docs/python/ is generated from the package's docstrings: it must match them."""
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_python_docs_pages_are_up_to_date():
    r = subprocess.run([sys.executable, os.path.join(ROOT, "scripts", "gen_python_docs.py"),
                        "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def test_every_public_name_is_documented():
    import attnlab
    for name in attnlab.__all__:
        obj = getattr(attnlab, name)
        assert (getattr(obj, "__doc__", None) or "").strip(), f"attnlab.{name} has no docstring"
