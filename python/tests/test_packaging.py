"""`pip install ./python/normkit_torch` gives an importable package (offline, no build isolation)."""
import os
import shutil
import subprocess
import sys

SOURCE = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "normkit_torch")


def test_pip_installs_the_package(tmp_path):
    # Built from a copy, so setuptools' build/ and egg-info never land in the checkout.
    source = tmp_path / "src"
    shutil.copytree(SOURCE, source, ignore=shutil.ignore_patterns("__pycache__", "build", "*.egg-info"))
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps", "--no-index",
                    "--target", str(target), str(source)], check=True, timeout=120, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    probe = "import normkit_torch as nt; print(nt.__file__); print(sorted(nt.QKNorm(4, kind='l2').state_dict()))"
    result = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=dict(os.environ, PYTHONPATH=str(target)),
                            check=True, stdout=subprocess.PIPE, text=True)
    path, keys = result.stdout.splitlines()
    assert path.startswith(str(target))
    assert keys == "['scale']"
