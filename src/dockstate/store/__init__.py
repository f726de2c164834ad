"""The durable store: the change log (so clients resume exactly across a restart of
dockstate) and every raw Docker event (a timeline per object), in one SQLite file.

This room does file I/O and nothing else; the server owns its lifetime.
"""

from ._changelog import ChangeLog, Saved
from ._db import StoreError
from ._store import Retention, Store
from ._timeline import EventLog, TimelinePage

__all__ = ["ChangeLog", "EventLog", "Retention", "Saved", "Store", "StoreError", "TimelinePage"]
