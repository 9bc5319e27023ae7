"""Synthetic feeds of the four agency systems (`motcua-hub simulate`)."""

from __future__ import annotations

from hub.simulate.province import Msg, Province, SimConfig, Simulation, load_catalogue

__all__ = ["Msg", "Province", "SimConfig", "Simulation", "load_catalogue"]
