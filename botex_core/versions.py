"""Refusing a library release that the contract tests of its adapter have not checked."""

from __future__ import annotations

from packaging.specifiers import SpecifierSet

from botex_core.errors import ConfigurationError


def refuse_untested(label: str, package: str, installed: str, tested: SpecifierSet, why: str = "") -> None:
    """Raise :class:`ConfigurationError` when ``installed`` (of ``package``, called ``label``) is outside
    ``tested``; ``why`` says what the project relies on.

    Raises:
        ConfigurationError: One line naming the release, the tested ones and how to install one.
    """
    if installed not in tested:
        raise ConfigurationError(
            f"{label} {installed} is not a version botex-fleet was tested with ({tested}){why}: "
            f"install a tested one (pip install '{package}{tested}')"
        )
