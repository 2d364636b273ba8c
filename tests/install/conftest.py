"""A built nasflow wheel installed into a fresh venv (no editable install, no checkout on sys.path)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


class InstalledWheel:
    """A venv holding only the wheel; its dependencies come from this interpreter's site-packages by a ``.pth``."""

    def __init__(self, root: Path) -> None:
        self.venv = root / "venv"
        self.bin = self.venv / "bin"

    def env(self) -> dict[str, str]:
        """An environment without the checkout on ``PYTHONPATH`` and with the venv's scripts first on ``PATH``."""
        dropped = ("PYTHONPATH", "NASFLOW_CONFIG_DIR", "NASFLOW_WORKSPACE")
        env = {k: v for k, v in os.environ.items() if k not in dropped}
        env["PATH"] = f"{self.bin}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
        return env

    def run(self, *args: str, cwd: Path, timeout: float = 600) -> subprocess.CompletedProcess:
        """Run ``nasflow *args`` from the venv's entry-point script in ``cwd``."""
        return subprocess.run([str(self.bin / "nasflow"), *args], check=False, cwd=cwd, env=self.env(),
                              capture_output=True, text=True, timeout=timeout)

    def python(self, code: str, cwd: Path) -> str:
        """The stdout of ``code`` run by the venv's interpreter in ``cwd``."""
        proc = subprocess.run([str(self.bin / "python"), "-c", code], cwd=cwd, env=self.env(), capture_output=True,
                              text=True, timeout=120, check=True)
        return proc.stdout.strip()


@pytest.fixture(scope="session")
def installed_wheel(tmp_path_factory: pytest.TempPathFactory) -> InstalledWheel:
    """``pip wheel`` of the checkout's files, ``pip install``ed into a new venv.

    The wheel is built from a copy of the files git would commit (tracked or not ignored): a ``build/`` folder an
    earlier build left in the checkout would otherwise slip its files into the wheel."""
    root = tmp_path_factory.mktemp("wheel")
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"], cwd=REPO,
                            check=True, capture_output=True, text=True).stdout
    for name in filter(None, listed.split("\0")):
        if (REPO / name).is_file():  # a file deleted but not yet staged is listed too
            (root / "src" / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, root / "src" / name)
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run([*pip, "wheel", "--no-deps", "--no-build-isolation", "-w", str(root / "dist"), str(root / "src")],
                   check=True, capture_output=True, timeout=300)
    (wheel,) = (root / "dist").glob("nasflow-*.whl")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(root / "venv")], check=True, timeout=120)
    installed = InstalledWheel(root)
    site = installed.python("import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=root)
    # A plain path line: the dependencies' folder joins sys.path, its .pth files (the checkout's editable finder)
    # do not run.
    (Path(site) / "nasflow-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([*pip, "--python", str(installed.bin / "python"), "install", "--no-deps", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    return installed
