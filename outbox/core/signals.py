"""The core's signals, for what listens to it without the core knowing.

`event_saved`: every event `outbox.core.store` saves, sent in the saving transaction with the
keyword arguments `event` and `using` (its database). The in-process listeners
(`outbox.inprocess.listeners`) hear events through it. A receiver's error propagates to the
code that saved, as a direct call's would.
"""

from django.dispatch import Signal

event_saved = Signal()
