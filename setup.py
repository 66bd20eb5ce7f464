"""Build hook: the wheel carries the top-level templates, translations and migrations.

They stay at the top of the repository (where editors and translators find them); a
built package has them inside ``newsletter/bundled/``, the catalogs compiled.
"""

import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

DATA_FOLDERS = ("templates", "translations", "migrations")


class BuildWithData(build_py):
    def run(self) -> None:
        super().run()
        if self.editable_mode:  # an editable install reads the folders in place
            return
        target = Path(self.build_lib) / "newsletter" / "bundled"
        shutil.rmtree(target, ignore_errors=True)  # nothing left from an earlier build
        for name in DATA_FOLDERS:
            shutil.copytree(
                name,
                target / name,
                dirs_exist_ok=True,
                ignore=shutil.ignore_patterns("__pycache__"),
            )
        from babel.messages.frontend import CommandLineInterface

        CommandLineInterface().run(["pybabel", "-q", "compile", "-d", str(target / "translations")])


setup(cmdclass={"build_py": BuildWithData})
