"""Ship the checkout's ``conf/`` and example models inside the package as ``workflows/shipped`` (package data).

Everything else about the build is in ``pyproject.toml``; there ``package-dir`` and ``packages.find`` do not mix,
hence this file. It also copies the project templates of ``nasflow init`` (``dvc.yaml``) into the package.
"""

from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup
from setuptools.command.build_py import build_py

BUNDLED = {"workflows.shipped.conf": "conf", "workflows.shipped.examples": "examples"}
PROJECT_FILES = ("dvc.yaml",)  # templates of `nasflow init`, copied to workflows/shipped/project


class BuildWithProjectFiles(build_py):
    """``build_py`` that also copies the project-root templates into the package."""

    def run(self) -> None:
        super().run()
        target = Path(self.build_lib, "workflows", "shipped", "project")
        target.mkdir(parents=True, exist_ok=True)
        for name in PROJECT_FILES:
            self.copy_file(name, str(target / name))


setup(
    # hydra_plugins is a namespace package (no __init__.py, as Hydra's plugin discovery needs): find_packages skips it
    packages=find_packages(include=["nas*", "knowledge_base*", "workflows*"])
    + find_namespace_packages(include=["hydra_plugins.*"]) + list(BUNDLED),
    package_dir=BUNDLED,
    cmdclass={"build_py": BuildWithProjectFiles},
)
