"""Which files the pma_lab wheel holds, and the optional compiled ledger.

The sample data, the notebooks and the report templates live at the top of the repository
(``data/samples``, ``notebooks``, ``templates``), where people edit them; the wheel ships
them inside the package as ``pma_lab/_resources/{samples,notebooks,templates}``, so an
installed pma_lab finds them with :mod:`importlib.resources` (see :mod:`pma_lab.paths`).

The tax-lot ledger (``pma_lab/tax/ledger.py``) can be compiled with mypyc, about twice as
fast on large blotters (``benchmarks/bench_ledger.py``). Opt in with ``PMA_LAB_COMPILE=1``
(``make setup`` does): the build then installs mypy at the version pinned below and, when
a C compiler is present, builds the extension next to ``ledger.py``. Without the opt-in,
without a compiler, or when compiling fails (a warning says why), nothing is compiled and
Python imports ``ledger.py`` itself; ``pma_lab.tax.ledger.COMPILED`` says which one runs.
"""

import os
import shutil
import sysconfig

from setuptools import Extension, find_packages, setup
from setuptools.command.build_ext import build_ext

RESOURCES = {
    "pma_lab._resources.samples": "data/samples",
    "pma_lab._resources.notebooks": "notebooks",
    "pma_lab._resources.templates": "templates",
}
MYPY = "mypy==2.4.1"  # mypyc, the compiler; pinned so that every build compiles the same way
COMPILE = os.environ.get("PMA_LAB_COMPILE", "") not in ("", "0")


def compiled_modules() -> list[Extension]:
    """The ledger's extension modules from mypyc, or none (pure Python) with a warning."""
    try:
        from mypyc.build import mypycify
    except ImportError:
        print("warning: mypyc is not installed: the ledger stays pure Python")
        return []
    cc = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if shutil.which(cc) is None:
        print(f"warning: no C compiler ({cc}): the ledger stays pure Python")
        return []
    try:
        return mypycify(["--follow-imports=silent", "--ignore-missing-imports",
                         "pma_lab/tax/ledger.py"], opt_level="3", debug_level="0")
    except (Exception, SystemExit) as e:  # mypy's errors and exits
        print(f"warning: mypyc could not compile the ledger ({e}): it stays pure Python")
        return []


# Declares that the wheel has compiled parts (a platform wheel); replaced by mypyc's
# extensions when build_ext runs, so that mypy runs once per build and not for every
# metadata step of pip.
_PLACEHOLDER = Extension("pma_lab.tax._ledger_placeholder", sources=[])


class OptionalBuildExt(build_ext):
    """Compile the ledger, or leave it pure Python when any part fails to build.

    After a failure the remaining extensions are skipped: a partial build could shadow
    ``ledger.py`` with a module that cannot load.
    """

    failed = False

    def finalize_options(self) -> None:
        """Replace the placeholder by mypyc's extensions (mypy runs here)."""
        exts = self.distribution.ext_modules or []
        if any(ext is _PLACEHOLDER for ext in exts):
            self.distribution.ext_modules = [e for e in exts if e is not _PLACEHOLDER]
            # pip's metadata step (dist_info) needs no extensions: mypy runs for builds only
            if not set(self.distribution.commands) <= {"dist_info", "egg_info"}:
                self.distribution.ext_modules += compiled_modules()
        super().finalize_options()

    def build_extension(self, ext: Extension) -> None:
        """Build ``ext``, or nothing after a failure (a warning says why)."""
        if self.failed:
            return
        try:
            super().build_extension(ext)
        except Exception as e:  # any build failure: pure Python
            self.failed = True
            print(f"warning: {ext.name} was not compiled ({e}): the ledger stays pure Python")


setup(
    packages=find_packages(include=["pma_lab", "pma_lab.*"]) + list(RESOURCES),
    package_dir={"": ".", **RESOURCES},
    package_data={"pma_lab": ["py.typed", "data/*.toml", "data/*.csv"],
                  **{name: ["**/*"] for name in RESOURCES}},
    exclude_package_data={name: ["**/.ipynb_checkpoints/*", "**/__pycache__/*"]
                          for name in RESOURCES},
    # setuptools' build backend adds setup_requires to the build's requirements
    setup_requires=[MYPY] if COMPILE else [],
    ext_modules=[_PLACEHOLDER] if COMPILE else [],
    cmdclass={"build_ext": OptionalBuildExt} if COMPILE else {},
)
