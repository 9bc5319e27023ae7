"""motcua-hub: the province's dossier integration hub."""

__version__ = "0.1.0"
