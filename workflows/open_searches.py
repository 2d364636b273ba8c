"""Search (parent) runs whose end a search could not write, the tracking server away: noted in the study, so that
the next start on any host ends each with the status its search ended with.

A leaf of ``workflows``: it imports ``nas.recovery`` only.
"""

from __future__ import annotations

from typing import Any

from nas.recovery import worker_id

OPEN_SEARCH_ATTR = "nasflow.mlflow_open_search:"  # study attribute (+ worker): {run, status} of an unended search run
ENDED_TAG = "nasflow.ended_by"


def note_open_search(study: Any, run_id: str, status: str) -> None:
    """Note in ``study`` that this process's search run ``run_id`` is to end ``status`` (FINISHED, FAILED)."""
    study._storage.set_study_system_attr(study._study_id, f"{OPEN_SEARCH_ATTR}{worker_id()}",
                                         {"run": run_id, "status": status})


def end_open_search(client: Any, study: Any, key: str, run_id: str, status: str) -> bool:
    """End search run ``run_id`` ``status`` if it is still RUNNING (with a tag saying who ended it, and why) and
    clear its note ``key`` in ``study``; whether it was still open."""
    still_open = client.get_run(run_id).info.status == "RUNNING"
    if still_open:
        client.set_tag(run_id, ENDED_TAG, f"{worker_id()}: its search ended {status} while the tracking server "
                                          "did not answer")
        client.set_terminated(run_id, status)
    study._storage.set_study_system_attr(study._study_id, key, None)
    return still_open


def end_open_searches(client: Any, study: Any) -> list[str]:
    """End every search run of ``study`` whose end its search noted there (:func:`note_open_search`) and that is
    still open; the run ids ended. Call it under the study's runs lock."""
    attrs = study._storage.get_study_system_attrs(study._study_id)
    return [note["run"] for key, note in attrs.items() if key.startswith(OPEN_SEARCH_ATTR) and note
            and end_open_search(client, study, key, note["run"], note["status"])]
