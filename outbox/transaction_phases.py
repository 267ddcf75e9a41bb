"""The transaction phases Django lacks: before commit, and after rollback.

Django gives one public hook, `transaction.on_commit`, which binds a callback to the outermost
transaction and drops it when the savepoint it was registered in rolls back. There is no hook
for "about to commit" or "rolled back". Rather than patch Django, this module extends the
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
- After-rollback callbacks run once the rollback is done and the connection is back in
  autocommit (as `on_commit` callbacks do after a commit), so each may open a transaction of
  its own. One that raises is logged and the others still run.
- Django's `TestCase` rolls back the transaction wrapping each test as its cleanup: that is
  not the outcome of the code under test, so callbacks bound to it never run (as Django
  never runs `on_commit` callbacks there). A connection lost mid-transaction drops them too.
"""

import logging
from collections.abc import Callable
from typing import Any

from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.transaction import TransactionManagementError

logger = logging.getLogger(__name__)

Callback = Callable[[], None]
SavepointIds = set[str | None]

PHASE_AWARE_ENGINE = "outbox.postgresql"


class TransactionPhasesMixin:
    """A `DatabaseWrapper` mixin adding `before_commit` and `after_rollback` to `on_commit`."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.run_before_commit: list[tuple[SavepointIds, Callback]] = []
        # Each entry also says whether the transaction is a test case's wrapper.
        self.run_on_rollback: list[tuple[SavepointIds, Callback, bool]] = []
        self.run_after_rollback: list[Callback] = []

    def before_commit(self, func: Callback) -> None:
        """Run `func` inside the current transaction, just before it commits."""
        self.validate_in_atomic_block("before_commit")
        self.run_before_commit.append((set(self.savepoint_ids), func))

    def after_rollback(self, func: Callback) -> None:
        """Run `func` after the current transaction rolls back, outside any transaction."""
        self.validate_in_atomic_block("after_rollback")
        wraps_a_test = bool(self.atomic_blocks) and getattr(
            self.atomic_blocks[0], "_from_testcase", False
        )
        self.run_on_rollback.append((set(self.savepoint_ids), func, wraps_a_test))

    def validate_in_atomic_block(self, hook: str) -> None:
        if not self.in_atomic_block:
            raise TransactionManagementError(f"{hook}() needs an atomic block")

    def savepoint_rollback(self, sid: str) -> None:
        super().savepoint_rollback(sid)
        self.run_before_commit = [entry for entry in self.run_before_commit if sid not in entry[0]]
        self.run_on_rollback = [entry for entry in self.run_on_rollback if sid not in entry[0]]

    def commit(self) -> None:
        if self.run_before_commit:
            try:
                self.run_and_clear_before_commit_hooks()
            except BaseException:
                # The outermost atomic block rolls back only on a DatabaseError from commit.
                self.rollback()
                raise
        super().commit()
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
        rolled_back, self.run_on_rollback = self.run_on_rollback, []
        self.run_after_rollback += [func for _, func, in_test in rolled_back if not in_test]

    def set_autocommit(
        self, autocommit: bool, force_begin_transaction_with_broken_autocommit: bool = False
    ) -> None:
        super().set_autocommit(autocommit, force_begin_transaction_with_broken_autocommit)
        if autocommit and self.run_after_rollback:
            self.run_and_clear_after_rollback_hooks()

    def run_and_clear_after_rollback_hooks(self) -> None:
        pending, self.run_after_rollback = self.run_after_rollback, []
        for func in pending:
            try:
                func()
            except Exception:
                logger.exception("after-rollback callback %s failed", func)

    def close(self) -> None:
        super().close()
        if self.run_on_rollback or self.run_after_rollback:
            logger.warning(
                "connection closed inside a transaction: %d after-rollback callbacks dropped",
                len(self.run_on_rollback) + len(self.run_after_rollback),
            )
        self.run_before_commit, self.run_on_rollback, self.run_after_rollback = [], [], []


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


def after_rollback(func: Callback, using: str = DEFAULT_DB_ALIAS) -> None:
    """Run `func` after the current transaction rolls back, outside any transaction."""
    phase_aware_connection(using).after_rollback(func)
