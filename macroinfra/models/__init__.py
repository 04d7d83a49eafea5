"""SQLAlchemy 2.0 models: 3 metadata tables and 7 hypertables (see timescale/spec.py), and
`hypertable(...)`, the way a team's own model declares its table a hypertable."""

from macroinfra.models.base import Base
from macroinfra.models.curves import Curve
from macroinfra.models.data_sources import DataSource
from macroinfra.models.declare import hypertable
from macroinfra.models.fiscal_data import FiscalData
from macroinfra.models.flow_data import FlowData
from macroinfra.models.instruments import Instrument
from macroinfra.models.macro_series import MacroSeries
from macroinfra.models.market_data import MarketData
from macroinfra.models.series_metadata import SeriesMetadata
from macroinfra.models.signals import Signal
from macroinfra.models.vol_surfaces import VolSurface

__all__ = [
    "Base",
    "Curve",
    "DataSource",
    "FiscalData",
    "FlowData",
    "Instrument",
    "MacroSeries",
    "MarketData",
    "SeriesMetadata",
    "Signal",
    "VolSurface",
    "hypertable",
]
