"""Every file a service needs at run time is in its installed package: the images install the
services without -e, so a template or script missing from package-data is missing in production
while every editable test passes."""
import tomllib

import pytest

from . import manifests

ROOT = manifests.ROOT
PACKAGES = {"servicekit": ROOT / "libs" / "servicekit"} | {s: ROOT / "services" / s for s in manifests.SERVICES}


def data_files(package_dir):
    return {path.relative_to(package_dir).as_posix() for path in package_dir.rglob("*")
            if path.is_file() and path.suffix not in (".py", ".pyc") and "__pycache__" not in path.parts}


@pytest.mark.parametrize("name", sorted(PACKAGES))
def test_package_data_covers_every_file_the_code_ships_with(name):
    project = PACKAGES[name]
    package_dir = project / name
    config = tomllib.loads((project / "pyproject.toml").read_text(encoding="utf-8"))
    patterns = config.get("tool", {}).get("setuptools", {}).get("package-data", {}).get(name, [])
    shipped = {path.relative_to(package_dir).as_posix() for pattern in patterns for path in package_dir.glob(pattern)
               if path.is_file()}
    missing = sorted(data_files(package_dir) - shipped)
    assert not missing, f"{name}: not in [tool.setuptools.package-data]: {missing}"
