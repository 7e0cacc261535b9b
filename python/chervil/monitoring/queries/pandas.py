"""The monitoring database as pandas DataFrames, for notebooks
(``parsl.monitoring.queries.pandas``).

Each helper takes a run's id (``dfk.run_id``, the ``workflow`` table's ``run_id``) and a
connection pandas can read from — ``sqlite3.connect('runinfo/monitoring.db')`` or a
SQLAlchemy engine — and returns the same columns as Parsl's. The run id is passed as a
query parameter, never pasted into the SQL.
"""
from typing import Any

import pandas as pd

DB = Any  # whatever pandas.read_sql_query takes: a sqlite3 connection, a SQLAlchemy engine


def _query(sql: str, db: DB, **params: Any) -> pd.DataFrame:
    return pd.read_sql_query(sql, db, params=params)


def app_counts_for_workflow(workflow_id: Any, db: DB) -> pd.DataFrame:
    """Tasks per app: ``task_func_name``, ``frequency``."""
    return _query("SELECT task_func_name, count(*) AS 'frequency' FROM task WHERE run_id = :run "
                  "GROUP BY task_func_name", db, run=str(workflow_id))


def nodes_for_workflow(workflow_id: Any, db: DB) -> pd.DataFrame:
    """The run's ``node`` rows (a pool joining, its heartbeats, leaving)."""
    return _query("SELECT * FROM node WHERE run_id = :run", db, run=str(workflow_id))


def resources_for_workflow(workflow_id: Any, db: DB) -> pd.DataFrame:
    """Every ``resource`` sample of the run."""
    return _query("SELECT * FROM resource WHERE run_id = :run", db, run=str(workflow_id))


def resources_for_task(workflow_id: Any, task_id: Any, db: DB) -> pd.DataFrame:
    """The ``resource`` samples of one task."""
    return _query("SELECT * FROM resource WHERE run_id = :run AND task_id = :task", db,
                  run=str(workflow_id), task=str(task_id))


def status_for_workflow(workflow_id: Any, db: DB) -> pd.DataFrame:
    """Every state change: ``run_id``, ``task_id``, ``task_status_name``, ``timestamp``."""
    return _query("SELECT run_id, task_id, task_status_name, timestamp FROM status WHERE run_id = :run",
                  db, run=str(workflow_id))


def completion_times_for_workflow(workflow_id: Any, db: DB) -> pd.DataFrame:
    """``task_id``, ``task_func_name``, ``task_time_returned``."""
    return _query("SELECT task_id, task_func_name, task_time_returned FROM task WHERE run_id = :run",
                  db, run=str(workflow_id))


def tasks_for_workflow(workflow_id: Any, db: DB) -> pd.DataFrame:
    """The run's ``task`` rows."""
    return _query("SELECT * FROM task WHERE run_id = :run", db, run=str(workflow_id))


def tries_for_workflow(workflow_id: Any, db: DB) -> pd.DataFrame:
    """Each try with its task: ``task_id``, ``task_func_name``, ``task_time_returned``,
    ``task_try_time_running``, ``task_try_time_returned``."""
    return _query("SELECT task.task_id, task_func_name, task_time_returned, task_try_time_running, "
                  "task_try_time_returned FROM task, try WHERE task.task_id = try.task_id "
                  "AND task.run_id = :run AND try.run_id = :run", db, run=str(workflow_id))
