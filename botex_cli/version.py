"""The installed version of botex-fleet, without importing the core package."""

from importlib.metadata import PackageNotFoundError, version


def package_version() -> str:
    """The version of the installed ``botex-fleet`` distribution."""
    try:
        return version("botex-fleet")
    except PackageNotFoundError:
        return "0.0.0"
