"""Package layout only; all metadata lives in pyproject.toml.

The top-level folders (the design card's scoring/, plugins/, integration/,
webhooks/, and the floors added since: reports/, cli/, sandbox/) install under
one namespace, ``itsm_align.<folder>``, so that a generic name such as
``plugins`` never clashes with another distribution.
"""
from setuptools import find_packages, setup

ROOTS = ("scoring", "plugins", "integration", "reports", "webhooks", "cli", "sandbox")

setup(
    packages=[
        f"itsm_align.{name}"
        for root in ROOTS
        for name in [root, *(f"{root}.{sub}" for sub in find_packages(root))]
    ],
    package_dir={f"itsm_align.{root}": root for root in ROOTS},
)
