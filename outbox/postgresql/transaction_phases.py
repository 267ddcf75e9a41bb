"""The transaction phases Django lacks: before commit, after commit together, after rollback.

Django gives one public hook, `transaction.on_commit`, which binds a callback to the outermost
transaction and drops it when the savepoint it was registered in rolls back. There is no hook
for "about to commit" or "rolled back", and each `on_commit` callback that writes needs a
transaction, and a commit, of its own. Rather than patch Django, this module extends the
database connection the way Django documents for customising a backend (subclass its
`DatabaseWrapper`; `django-transaction-hooks`, the project that became `on_commit`, did the
same), overriding only the public `commit`, `rollback`, `savepoint_rollback`,
`set_autocommit` and `close`. It therefore sees every transaction, whoever opened it:
`transaction.atomic` anywhere, nested blocks, the consumer runtime, the test client.

The callbacks follow `on_commit`'s rules, so that all phases agree:
- They bind to the outermost transaction. One registered inside a savepoint that rolls back
  is dropped: what happened inside it never happened.
- Before-commit callbacks run when the outermost block is about to commit, inside the
  transaction (their writes commit with it). If one raises, the transaction rolls back and
  the error reaches the code that was committing.
- After-commit and after-rollback callbacks run once the transaction ended and the connection
  is back in autocommit (after Django's own `on_commit` callbacks). The callbacks of one ended
  transaction run together in one new transaction, each inside a savepoint of its own: one
  that raises is logged, its writes roll back, and the others' writes still commit. A dozen
  audit records after a commit therefore cost one more commit, not a dozen. A callback alone
  after its transaction has the new transaction to itself, without a savepoint.
- An after-commit callback may also gather items (`after_commit_together`): every item
  registered for the same function during the transaction (and not dropped with a savepoint)
  reaches it in one call, `function(items)`, in one savepoint, at the place of the first one.
  A dozen audit records after a commit are then one multi-row insert; if it raises, all of
  them roll back together, and the failure is logged naming every item.
- A once-after-commit callback (`once_after_commit`) runs after the commit in autocommit,
  outside any transaction, before the after-commit callbacks; equal callbacks registered in
  one transaction run once. The relay's wake-up is one: a notification that must not be sent
  inside a writing transaction (`outbox.core.relay_wakeup`).
- Django's `TestCase` runs each test in a savepoint that it rolls back as its cleanup: the
  callbacks the test registered are dropped with that savepoint, so none of them runs (as
  Django never runs `on_commit` callbacks there). A connection lost mid-transaction drops them
  too. Only what the public API shows is read: no private attribute of Django's.
"""

import dataclasses
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.transaction import TransactionManagementError

if TYPE_CHECKING:
    from django.db.backends.base.base import BaseDatabaseWrapper

    # What the mixin extends, for the type checker; at run time the backend's DatabaseWrapper
    # comes after it in the class's bases.
    _DatabaseWrapper = BaseDatabaseWrapper
else:
    _DatabaseWrapper = object

logger = logging.getLogger(__name__)

Callback = Callable[[], None]
GatheringCallback = Callable[[list[Any]], None]
SavepointIds = set[str | None]


@dataclasses.dataclass(frozen=True)
class Gathered:
    """An item for an after-commit function that runs once with all the items of a commit."""

    function: GatheringCallback
    item: Any
    label: str  # names the item when the function's failure is logged


@dataclasses.dataclass(frozen=True)
class GatheredCall:
    """One call of a gathering function on the items of one commit."""

    function: GatheringCallback
    items: list[Any]
    labels: list[str]

    def __call__(self) -> None:
        self.function(self.items)

    def __str__(self) -> str:
        return f"{self.function} on {', '.join(self.labels)}"


def gathered_calls(entries: Iterable[Callback | Gathered]) -> list[Callback]:
    """The callbacks to run, each gathering function called once with its items, in the place
    of its first item."""
    calls: list[Callback] = []
    gathering: dict[GatheringCallback, GatheredCall] = {}
    for entry in entries:
        if not isinstance(entry, Gathered):
            calls.append(entry)
            continue
        call = gathering.get(entry.function)
        if call is None:
            call = gathering[entry.function] = GatheredCall(entry.function, [], [])
            calls.append(call)
        call.items.append(entry.item)
        call.labels.append(entry.label)
    return calls


PHASE_AWARE_ENGINE = "outbox.postgresql"


class TransactionPhasesMixin(_DatabaseWrapper):
    """A `DatabaseWrapper` mixin adding `before_commit`, `after_commit`, `after_rollback`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_before_commit: list[tuple[SavepointIds, Callback]] = []
        self.run_after_commit: list[tuple[SavepointIds, Callback | Gathered]] = []
        self.run_on_rollback: list[tuple[SavepointIds, Callback]] = []
        # Callbacks of the transaction that just ended, run when autocommit is back on.
        self.run_after_end: list[Callback] = []
        # Callbacks to run once after the commit, outside any transaction (`once_after_commit`).
        self.run_once_after_commit: list[tuple[SavepointIds, Callback]] = []
        self.run_outside_transaction: list[Callback] = []

    def before_commit(self, func: Callback) -> None:
        """Run `func` inside the current transaction, just before it commits."""
        self.validate_in_atomic_block("before_commit")
        self.run_before_commit.append((set(self.savepoint_ids), func))

    def after_commit(self, func: Callback) -> None:
        """Run `func` after the current transaction commits, in a new transaction."""
        self.validate_in_atomic_block("after_commit")
        self.run_after_commit.append((set(self.savepoint_ids), func))

    def after_commit_together(self, function: GatheringCallback, item: Any, label: str) -> None:
        """Add `item` to those `function` receives in one call after the current transaction
        commits, in a new transaction."""
        self.validate_in_atomic_block("after_commit_together")
        self.run_after_commit.append((set(self.savepoint_ids), Gathered(function, item, label)))

    def once_after_commit(self, func: Callback) -> None:
        """Run `func` after the current transaction commits, in autocommit and outside any
        transaction, before the after-commit callbacks; once, however often an equal callback
        is registered in this transaction. If it raises, the error is logged, not raised."""
        self.validate_in_atomic_block("once_after_commit")
        if all(registered != func for _, registered in self.run_once_after_commit):
            self.run_once_after_commit.append((set(self.savepoint_ids), func))

    def after_rollback(self, func: Callback) -> None:
        """Run `func` after the current transaction rolls back, in a new transaction."""
        self.validate_in_atomic_block("after_rollback")
        self.run_on_rollback.append((set(self.savepoint_ids), func))

    def validate_in_atomic_block(self, hook: str) -> None:
        if not self.in_atomic_block:
            raise TransactionManagementError(f"{hook}() needs an atomic block")

    def savepoint_rollback(self, sid: str) -> None:
        super().savepoint_rollback(sid)
        self.run_before_commit = [entry for entry in self.run_before_commit if sid not in entry[0]]
        self.run_after_commit = [entry for entry in self.run_after_commit if sid not in entry[0]]
        self.run_on_rollback = [entry for entry in self.run_on_rollback if sid not in entry[0]]
        self.run_once_after_commit = [
            entry for entry in self.run_once_after_commit if sid not in entry[0]
        ]

    def commit(self) -> None:
        if self.run_before_commit:
            try:
                self.run_and_clear_before_commit_hooks()
            except BaseException:
                # The outermost atomic block rolls back only on a DatabaseError from commit.
                self.rollback()
                raise
        super().commit()
        once, self.run_once_after_commit = self.run_once_after_commit, []
        self.run_outside_transaction += [func for _, func in once]
        committed, self.run_after_commit = self.run_after_commit, []
        self.run_after_end += gathered_calls(func for _, func in committed)
        self.run_on_rollback = []

    def run_and_clear_before_commit_hooks(self) -> None:
        # Back inside an atomic block, so that the hooks may use atomic() and on_commit(),
        # and may register further before-commit hooks, which run in this same loop.
        with transaction.atomic(using=self.alias, savepoint=False):
            while self.run_before_commit:
                _, func = self.run_before_commit.pop(0)
                func()

    def rollback(self) -> None:
        super().rollback()
        self.run_before_commit = []
        self.run_after_commit = []
        self.run_once_after_commit = []
        rolled_back, self.run_on_rollback = self.run_on_rollback, []
        self.run_after_end += [func for _, func in rolled_back]

    def set_autocommit(
        self, autocommit: bool, force_begin_transaction_with_broken_autocommit: bool = False
    ) -> None:
        super().set_autocommit(autocommit, force_begin_transaction_with_broken_autocommit)
        if autocommit and self.run_outside_transaction:
            self.run_and_clear_outside_transaction_hooks()
        if autocommit and self.run_after_end:
            self.run_and_clear_after_end_hooks()

    def run_and_clear_outside_transaction_hooks(self) -> None:
        pending, self.run_outside_transaction = self.run_outside_transaction, []
        for func in pending:
            try:
                func()
            except Exception:
                logger.exception("%s failed after the commit", func)

    def run_and_clear_after_end_hooks(self) -> None:
        pending, self.run_after_end = self.run_after_end, []
        if len(pending) == 1:
            # Alone in its transaction, a callback needs no savepoint to fail on its own.
            run_isolated(pending[0], self.alias)
            return
        try:
            with transaction.atomic(using=self.alias):
                for func in pending:
                    run_isolated(func, self.alias)
        except Exception:
            # The transaction ended as it did: its caller must not see an error from here.
            logger.exception("the writes of %d after-transaction callbacks were lost", len(pending))

    def close(self) -> None:
        super().close()
        dropped = sum(
            len(callbacks)
            for callbacks in (
                self.run_after_commit,
                self.run_on_rollback,
                self.run_after_end,
                self.run_once_after_commit,
                self.run_outside_transaction,
            )
        )
        if dropped:
            logger.warning("connection closed: %d after-transaction callbacks dropped", dropped)
        self.run_before_commit, self.run_after_commit = [], []
        self.run_on_rollback, self.run_after_end = [], []
        self.run_once_after_commit, self.run_outside_transaction = [], []


def run_isolated(func: Callback, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `func` in an atomic block of its own: a transaction, or a savepoint inside one.

    If it raises, the error is logged, not raised, and only `func`'s writes roll back.
    """
    try:
        with transaction.atomic(using=using):
            func()
    except Exception:
        logger.exception("%s failed; its writes were rolled back", func)


def phase_aware_connection(using: str = DEFAULT_DB_ALIAS) -> TransactionPhasesMixin:
    """The connection, if its backend knows the before-commit and after-rollback phases."""
    connection = transaction.get_connection(using)
    if not isinstance(connection, TransactionPhasesMixin):
        raise ImproperlyConfigured(
            f"database {using!r} has no before-commit or after-rollback phase: "
            f"set its ENGINE to {PHASE_AWARE_ENGINE!r}"
        )
    return connection


def before_commit(func: Callback, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `func` inside the current transaction, just before it commits."""
    phase_aware_connection(using).before_commit(func)


def after_commit(func: Callback, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `func` after the current transaction commits, in a new transaction."""
    phase_aware_connection(using).after_commit(func)


def after_commit_together(
    function: GatheringCallback, item: Any, label: str, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Add `item` to those `function` receives, all in one call, after the current transaction
    commits, in a new transaction; `label` names the item if the call fails."""
    phase_aware_connection(using).after_commit_together(function, item, label)


def once_after_commit(func: Callback, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `func` once after the current transaction commits, outside any transaction."""
    phase_aware_connection(using).once_after_commit(func)


def after_rollback(func: Callback, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `func` after the current transaction rolls back, in a new transaction."""
    phase_aware_connection(using).after_rollback(func)
