"""Your own data in and out: spreadsheets, CSV/Parquet folders, GeoPackages, databases, Excel.

- :func:`read_network` reads a :class:`~channelopt.ChannelNetwork` from an ``.xlsx``
  workbook, a folder of CSV/Parquet files, a GeoPackage, a SQLite file or any SQLAlchemy
  database, with English or Chinese headers.
- :func:`write_template` writes a workbook to fill in (``channelopt template FILE.xlsx``).
- :func:`plan_to_excel` writes a plan as a workbook a manager can forward
  (``plan.to_excel(path)``); :func:`results_to_excel` does the same for a batch comparison.
"""

from ._schema import SEPARATOR, TABLE_ALIASES, TABLES
from .excel import frames_to_excel, plan_to_excel, results_to_excel, write_template
from .reader import read_network, read_tables

__all__ = [
    "SEPARATOR",
    "TABLES",
    "TABLE_ALIASES",
    "frames_to_excel",
    "plan_to_excel",
    "read_network",
    "read_tables",
    "results_to_excel",
    "write_template",
]
