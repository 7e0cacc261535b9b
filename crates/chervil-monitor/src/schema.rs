//! Parsl's monitoring tables, as its SQLAlchemy models create them in SQLite.
//!
//! `CREATE … IF NOT EXISTS`, so a file Parsl (or an earlier Chervil run) made is used
//! as it is and several runs append to one database. Column names, types, keys and
//! the one index are Parsl's (`parsl/monitoring/db_manager.py`), so Parsl's
//! visualizer and users' own queries read Chervil's rows unchanged.

pub const TABLES: &str = "
CREATE TABLE IF NOT EXISTS workflow (
	run_id TEXT NOT NULL,
	workflow_name TEXT,
	workflow_version TEXT,
	time_began DATETIME NOT NULL,
	time_completed DATETIME,
	host TEXT NOT NULL,
	user TEXT NOT NULL,
	rundir TEXT NOT NULL,
	tasks_failed_count INTEGER NOT NULL,
	tasks_completed_count INTEGER NOT NULL,
	PRIMARY KEY (run_id)
);
CREATE TABLE IF NOT EXISTS task (
	task_id INTEGER NOT NULL,
	run_id TEXT NOT NULL,
	task_depends TEXT,
	task_func_name TEXT NOT NULL,
	task_memoize TEXT NOT NULL,
	task_hashsum TEXT,
	task_inputs TEXT,
	task_outputs TEXT,
	task_stdin TEXT,
	task_stdout TEXT,
	task_stderr TEXT,
	task_time_invoked DATETIME,
	task_time_returned DATETIME,
	task_fail_count INTEGER NOT NULL,
	task_fail_cost FLOAT NOT NULL,
	PRIMARY KEY (task_id, run_id)
);
CREATE INDEX IF NOT EXISTS ix_task_task_hashsum ON task (task_hashsum);
CREATE TABLE IF NOT EXISTS try (
	try_id INTEGER NOT NULL,
	task_id INTEGER NOT NULL,
	run_id TEXT NOT NULL,
	block_id TEXT,
	hostname TEXT,
	task_executor TEXT NOT NULL,
	task_try_time_launched DATETIME,
	task_try_time_running DATETIME,
	task_try_time_returned DATETIME,
	task_fail_history TEXT,
	task_joins TEXT,
	PRIMARY KEY (try_id, task_id, run_id)
);
CREATE TABLE IF NOT EXISTS node (
	id INTEGER NOT NULL,
	run_id TEXT NOT NULL,
	hostname TEXT NOT NULL,
	uid TEXT NOT NULL,
	block_id TEXT NOT NULL,
	cpu_count INTEGER NOT NULL,
	total_memory BIGINT NOT NULL,
	active BOOLEAN NOT NULL,
	worker_count INTEGER NOT NULL,
	python_v TEXT NOT NULL,
	timestamp DATETIME NOT NULL,
	last_heartbeat DATETIME NOT NULL,
	PRIMARY KEY (id)
);
CREATE TABLE IF NOT EXISTS block (
	run_id TEXT NOT NULL,
	executor_label TEXT NOT NULL,
	block_id TEXT NOT NULL,
	job_id TEXT,
	timestamp DATETIME NOT NULL,
	status TEXT NOT NULL,
	PRIMARY KEY (run_id, block_id, executor_label, timestamp)
);
CREATE TABLE IF NOT EXISTS status (
	task_id INTEGER NOT NULL,
	task_status_name TEXT NOT NULL,
	timestamp DATETIME NOT NULL,
	run_id TEXT NOT NULL,
	try_id INTEGER NOT NULL,
	PRIMARY KEY (task_id, run_id, task_status_name, timestamp),
	FOREIGN KEY(run_id) REFERENCES workflow (run_id)
);
CREATE TABLE IF NOT EXISTS resource (
	try_id INTEGER NOT NULL,
	task_id INTEGER NOT NULL,
	run_id TEXT NOT NULL,
	timestamp DATETIME NOT NULL,
	resource_monitoring_interval FLOAT,
	psutil_process_pid INTEGER,
	psutil_process_memory_percent FLOAT,
	psutil_process_children_count FLOAT,
	psutil_process_time_user FLOAT,
	psutil_process_time_system FLOAT,
	psutil_process_memory_virtual FLOAT,
	psutil_process_memory_resident FLOAT,
	psutil_process_disk_read FLOAT,
	psutil_process_disk_write FLOAT,
	psutil_process_status TEXT,
	psutil_cpu_num TEXT,
	psutil_process_num_ctx_switches_voluntary FLOAT,
	psutil_process_num_ctx_switches_involuntary FLOAT,
	PRIMARY KEY (try_id, task_id, run_id, timestamp),
	FOREIGN KEY(run_id) REFERENCES workflow (run_id)
);
";
