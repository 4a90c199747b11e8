"""Loading user plugins: a directory of Python modules (--user-dir) or an entry-point group.

A plugin registers components with the public decorators
(``audiotext.register_objective`` etc.) when it is imported, so users never edit
audiotext/.
"""
from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
import logging
import sys
from pathlib import Path
from typing import List, Optional

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "audiotext.plugins"
_loaded_dirs: set = set()
_entry_points_loaded = False


def import_user_dir(path: str) -> str:
    """Import ``path`` (a package directory, or a directory of modules) once; returns the module name."""
    directory = Path(path).expanduser().resolve()
    if not directory.is_dir():
        raise FileNotFoundError(f"--user-dir: not a directory: {path}")
    name = directory.name
    if str(directory) in _loaded_dirs:
        return name
    parent = str(directory.parent)
    if parent not in sys.path:
        sys.path.insert(0, parent)
    if name in sys.modules and Path(getattr(sys.modules[name], "__file__", "") or "").parent != directory:
        raise ImportError(f"--user-dir {directory}: a different module named {name!r} is already imported")
    if (directory / "__init__.py").is_file():
        importlib.import_module(name)
    else:  # a plain folder of modules: import each one
        for module_file in sorted(directory.glob("*.py")):
            spec = importlib.util.spec_from_file_location(f"{name}.{module_file.stem}", module_file)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
    _loaded_dirs.add(str(directory))
    log.info("loaded user plugins from %s", directory)
    return name


def load_entry_point_plugins() -> List[str]:
    """Import every module that installed packages declare under ``audiotext.plugins``."""
    global _entry_points_loaded
    if _entry_points_loaded:
        return []
    _entry_points_loaded = True
    names = []
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        try:
            entry.load()
        except Exception as err:
            raise ImportError(f"plugin entry point {entry.name!r} ({entry.value}) failed to load: {err}") from err
        names.append(entry.name)
    return names


def load_plugins(user_dirs: Optional[List[str]] = None) -> None:
    load_entry_point_plugins()
    for path in user_dirs or []:
        import_user_dir(path)
