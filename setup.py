"""Which files the pma_lab wheel holds (everything else is in pyproject.toml).

The sample data, the notebooks and the report templates live at the top of the repository
(``data/samples``, ``notebooks``, ``templates``), where people edit them; the wheel ships
them inside the package as ``pma_lab/_resources/{samples,notebooks,templates}``, so an
installed pma_lab finds them with :mod:`importlib.resources` (see :mod:`pma_lab.paths`).
"""

from setuptools import find_packages, setup

RESOURCES = {
    "pma_lab._resources.samples": "data/samples",
    "pma_lab._resources.notebooks": "notebooks",
    "pma_lab._resources.templates": "templates",
}

setup(
    packages=find_packages(include=["pma_lab", "pma_lab.*"]) + list(RESOURCES),
    package_dir={"": ".", **RESOURCES},
    package_data={"pma_lab": ["py.typed", "data/*.toml", "data/*.csv"],
                  **{name: ["**/*"] for name in RESOURCES}},
    exclude_package_data={name: ["**/.ipynb_checkpoints/*", "**/__pycache__/*"]
                          for name in RESOURCES},
)
