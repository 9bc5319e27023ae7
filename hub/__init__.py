"""motcua-hub: the province's dossier integration hub."""

from hub import native as _native

__version__ = "0.1.0"

# before any hot module is imported: their compiled build is used only if current (hub/native.py)
_native.install()
