"""One PostgreSQL database shared by hosts: the Optuna study and the knowledge base side by side, fresh schemas
created by several processes at once."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.nas.recorder import Recorder
from tests.workflows.test_resume_and_workers import postgres_url
from tests.workflows.tracking_server import postgres_database

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def fresh_database() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL database, dropped afterwards."""
    with postgres_database(postgres_url()) as url:
        yield url


def test_study_and_knowledge_base_share_one_database(fresh_database: str) -> None:
    from knowledge_base import KnowledgeBase
    from knowledge_base.migrate import head_revision
    from nas.study import SearchSettings, open_study

    study = open_study(SearchSettings(storage=fresh_database, study_name="shared"))
    with KnowledgeBase(fresh_database) as kb:
        assert kb.revision() == head_revision()
    study.tell(study.ask(), 0.5)
    again = open_study(SearchSettings(storage=fresh_database, study_name="shared"))  # Optuna still reads its revision
    assert [t.value for t in again.trials] == [0.5]
    with KnowledgeBase(fresh_database) as kb:
        assert kb.revision() == head_revision()


CREATE = "from nas.study import make_storage; import sys; make_storage(sys.argv[1]); print('ok')"


def test_processes_creating_a_fresh_study_schema_queue_on_the_advisory_lock(fresh_database: str) -> None:
    import time

    import psycopg

    from nas.locks import PostgresLock
    from nas.study import SCHEMA_LOCK

    lock = PostgresLock(fresh_database, SCHEMA_LOCK)
    with lock:
        procs = [subprocess.Popen([sys.executable, "-c", CREATE, fresh_database], cwd=REPO, text=True,
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE) for _ in range(2)]
        deadline = time.monotonic() + 120
        with psycopg.connect(fresh_database, autocommit=True) as probe:
            while probe.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                                ).fetchone() != (2,):
                assert time.monotonic() < deadline and all(p.poll() is None for p in procs)
                time.sleep(0.1)
            tables = probe.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
        assert tables == (0,)  # both wait for the lock before creating anything
    lock.connection.close()
    results = [proc.communicate(timeout=120) for proc in procs]
    assert [(p.returncode, out.strip()) for p, (out, _) in zip(procs, results)] == [(0, "ok")] * 2, \
        [err for _, err in results]


class Waits(Recorder):
    def __init__(self) -> None:
        super().__init__()
        self.waited: list[list[int]] = []

    def waiting_for(self, numbers: list[int]) -> None:
        self.waited.append(numbers)


def test_a_survivor_retries_the_last_trial_of_a_dead_host_and_finishes_the_budget(
        fresh_database: str, digits) -> None:
    from nas.factory import ConstructorFactory, DataShape
    from nas.model_file import ModelSpec
    from nas.search import run_search
    from nas.study import SearchSettings, open_study
    from nas.training import TrainSettings
    from tests.nas.test_search_engine import SPACE

    settings = SearchSettings(n_trials=2, storage=fresh_database, study_name="dead-host", pruner="none",
                              sampler="random", heartbeat=1, grace_period=3)
    study = open_study(settings)
    study.tell(study.ask(SPACE.to_optuna()), 0.5)  # the budget: one trial done by another host,
    study.enqueue_trial({"channels": 40, "depth": 2, "hidden": 60})
    dead = study.ask(SPACE.to_optuna())  # and its last place claimed by a host that beat once and died
    dead.set_user_attr("worker", "other-host:4242:1")
    study._storage.record_heartbeat(dead._trial_id)
    factory = ConstructorFactory(ModelSpec(REPO / "examples/models/digits_cnn.py", "DigitsCNN"),
                                 DataShape(digits.input_shape, digits.n_classes), SPACE)
    observer = Waits()
    study = run_search(factory, digits, TrainSettings(epochs=1), settings, observer)
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE"]
    assert [dead.number] in observer.waited
    retry = study.trials[-1]
    assert retry.params == dead.params and retry.number in observer.trained
