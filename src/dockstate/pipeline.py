"""The commit pipeline: where every batch the state commits goes, in order, and what a failure
of each stage costs.

::

    EngineState.apply() --batch--> 1. record (the store's change log)  --> 2. publish (the hub)

1. **Record.** The batch is written to the durable history before any client can be sent it,
   so that a version a client has seen is on disk. *If recording fails* (it raises anything,
   an ``sqlite3.Error`` or a bug of ours alike), the error is logged once and the recorder
   is stopped (``on_record_failure``): the store marks its file invalid, so that the next
   run starts a new epoch instead of reusing versions clients may have seen. The batch still
   goes on to the hub and clients are unaffected; history keeps serving from memory.
2. **Publish.** The hub offers the batch to every subscription. *If publishing fails*, the
   batch may have reached some subscriptions and not others: every subscription is made to
   start over (``resync_required`` with code ``INTERNAL_ERROR``, then a snapshot), so that
   no client ever goes on with a gap its version checks cannot see.

The pipeline is the state's only listener in a server; it never raises.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from .hub import Hub
from .protocol import RESYNC_INTERNAL_ERROR
from .state import ChangeBatch

__all__ = ["CommitPipeline"]

log = logging.getLogger("dockstate.pipeline")


class CommitPipeline:
    """Hands each committed batch to ``record`` (optional), then to ``hub``; see the module.

    Args:
        hub: publishes batches to the subscriptions.
        record: writes a batch durably (``ChangeLog.record``); ``None`` keeps no history.
        on_record_failure: called with the exception when ``record`` raised; it must stop
            the recorder for good (``ChangeLog.fail``). Later batches skip recording.
    """

    def __init__(
        self,
        hub: Hub,
        *,
        record: Callable[[ChangeBatch], None] | None = None,
        on_record_failure: Callable[[BaseException], None] | None = None,
    ) -> None:
        self.hub = hub
        self._record = record
        self._on_record_failure = on_record_failure
        #: How many batches failed each stage (for the metrics and the tests).
        self.record_failures = 0
        self.publish_failures = 0

    def __call__(self, batch: ChangeBatch) -> None:
        if self._record is not None:
            try:
                self._record(batch)
            except Exception as err:
                self.record_failures += 1
                self._record = None
                log.exception(
                    "recording version %d in the history failed; history is no longer saved",
                    batch.to_version,
                )
                if self._on_record_failure is not None:
                    try:
                        self._on_record_failure(err)
                    except Exception:
                        log.exception("the history could not be marked invalid either")
        try:
            self.hub.publish(batch)
        except Exception:
            self.publish_failures += 1
            log.exception(
                "publishing version %d failed; every subscription resyncs", batch.to_version
            )
            self.hub.resync_all(RESYNC_INTERNAL_ERROR)
