"""Live panels, one module per notebook topic. Each class here is a :class:`bnlib.live.Panel`."""

import importlib
import pkgutil


def course_panels() -> list:
    """Every panel class of the course, sorted by module and name (imports each panels module once)."""
    from bnlib.live import Panel

    for module in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{module.name}")
    return sorted(
        (cls for cls in Panel.registry if cls.__module__.startswith(f"{__name__}.")),
        key=lambda cls: f"{cls.__module__}.{cls.__name__}",
    )
