# The two commands of the README:  `make run` (the Monte Carlo example) and `make test`.
# Both install what they need first (idempotently): maturin, pytest, and Chervil itself.
PYTHON ?= python3
PARSL_VENV ?= .venv-parsl
export PIP_ROOT_USER_ACTION := ignore
export PIP_DISABLE_PIP_VERSION_CHECK := 1

.PHONY: setup system-deps mpi4py cctools docs run fuzz soak loadgen test test-rust test-rust-examples test-publish test-python test-parsl-suite test-wheel wheel parsl-venv bench clean

setup:
	@$(PYTHON) -m pip install -q 'maturin>=1.7,<2' 'pytest>=7' 'cloudpickle>=2' 'typeguard>=4' 'pyftpdlib>=1.5' 'selenium>=4.15' 'pandas>=1.5' 'sqlalchemy>=2,<2.1'
	@$(PYTHON) -m pip install -q --no-build-isolation .

# What the tests run for real, from Debian (installed only when missing, as root):
# iproute2 (network-namespace test), mpich (MPI launchers; libmpich-dev to compile the MPI test program), GNU parallel, and
# openssh (AdHocProvider against a real sshd on loopback), rsync (RSyncStaging over that sshd),
# graphviz (parsl-visualize draws the task graph of a Chervil monitoring database with dot),
# chromium and chromium-driver (the dashboard's tests drive a real headless browser).
SYSTEM_TOOLS := ip:iproute2 mpiexec:mpich parallel:parallel sshd:openssh-server ssh:openssh-client ssh-keygen:openssh-client rsync:rsync dot:graphviz chromium:chromium chromedriver:chromium-driver
# Packages with no command to look for: checked with dpkg (libmpich-dev: mpi.h for mpicc).
SYSTEM_PACKAGES := libmpich-dev
system-deps:
	@missing=""; for pair in $(SYSTEM_TOOLS); do tool=$${pair%%:*}; pkg=$${pair#*:}; \
		PATH="$$PATH:/usr/sbin" command -v $$tool >/dev/null 2>&1 || missing="$$missing $$pkg"; done; \
	for pkg in $(SYSTEM_PACKAGES); do dpkg-query -W -f='$${Status}' $$pkg 2>/dev/null | grep -q 'ok installed' || \
		missing="$$missing $$pkg"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
			echo "installing$$missing"; apt-get update -q >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $$missing >/dev/null; \
		else echo "missing$$missing: tests that need them are skipped (they fail under CI)"; fi; fi

run: setup
	$(PYTHON) examples/monte_carlo.py

# Parsl itself, in a venv of its own, so tests can compare Chervil with it side by side.
# pytest below 8.4 there: Parsl's own conftest (used when Parsl runs its tests for reference)
# declares a hook argument that pytest 9 rejects.
# With Parsl's monitoring and visualization extras: parsl-visualize must read Chervil's database.
PARSL_READY := import parsl, pytest, flask, sqlalchemy, pandas, plotly, networkx, pydot; assert tuple(map(int, pytest.__version__.split('.')[:2])) < (8, 4)
parsl-venv:
	@test -x $(PARSL_VENV)/bin/python || $(PYTHON) -m venv $(PARSL_VENV)
	@$(PARSL_VENV)/bin/python -c "$(PARSL_READY)" 2>/dev/null || \
		$(PARSL_VENV)/bin/pip install -q 'parsl[monitoring,visualization]' 'pytest<8.4'

test-rust: system-deps
	@if cargo nextest --version >/dev/null 2>&1; then cargo nextest run; else cargo test; fi
	# nextest runs no doc-tests: the crate's examples (each macro's, the crate docs') run here,
	# and every crate's docs must build without a warning (broken links included).
	cargo test --doc -p chervil
	RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps
	$(MAKE) test-rust-examples

# The Rust front's examples (examples/rust), each on a HighThroughputExecutor with a local
# block whose pool and workers are the example program itself; run in a scratch directory.
test-rust-examples:
	cargo build -p chervil --examples
	@set -e; dir=$$(mktemp -d); for ex in hello sort_numbers monte_carlo monitored; do \
		echo "== examples/rust/$$ex.rs"; (cd $$dir && $(CURDIR)/target/debug/examples/$$ex); done; rm -rf $$dir

# mpi4py built from source against Debian's MPICH (the MPI tests' python app uses it; its
# binary wheel looks for another MPICH library name). About two minutes, once.
mpi4py: system-deps
	@$(PYTHON) -c "from mpi4py import MPI" 2>/dev/null || \
		$(PYTHON) -m pip install -q --no-binary mpi4py --force-reinstall --no-deps 'mpi4py>=4'

# CCTools (Work Queue, TaskVine) from the vendored source, for the Work Queue and TaskVine
# executors: built once into build/cctools for this interpreter (about a minute on 2 cores;
# a stamp makes it a no-op after), the interpreter pointed at its bindings with a .pth file.
cctools:
	@scripts/cctools.sh $(PYTHON)

test-python: setup parsl-venv system-deps mpi4py cctools
	CHERVIL_PARSL_PYTHON=$(CURDIR)/$(PARSL_VENV)/bin/python $(PYTHON) -m pytest -x -q

# Parsl's own tests (the folders FOLDERS in tests/parsl_suite/run.py names, three configs) on Chervil and, for reference, on Parsl:
# fails where a test passing on Parsl fails on Chervil (tests/parsl_suite/DIFFERENCES.md).
test-parsl-suite: setup parsl-venv
	CHERVIL_PARSL_PYTHON=$(CURDIR)/$(PARSL_VENV)/bin/python $(PYTHON) tests/parsl_suite/run.py

test: test-rust test-publish test-python test-parsl-suite test-wheel docs

# The documentation site (docs/, Sphinx with the Furo theme) into build/docs, offline, with
# warnings as errors; the guide's examples (``.. testcode::``) run in the doctest pass, and the
# Rust front's rustdoc is copied beside it (build/docs/rust). Sphinx lives in a venv of its own
# that sees the installed Chervil (its docutils would clash with other tools' in the system's).
DOCS_VENV ?= .venv-docs
docs: setup
	@test -x $(DOCS_VENV)/bin/python || $(PYTHON) -m venv --system-site-packages $(DOCS_VENV)
	@$(DOCS_VENV)/bin/python -c "import sphinx, furo, myst_parser" 2>/dev/null || \
		$(DOCS_VENV)/bin/pip install -q --no-warn-conflicts 'sphinx>=7' 'furo>=2024' 'myst-parser>=3'
	$(DOCS_VENV)/bin/python -m sphinx -W --keep-going -q -b html docs build/docs
	$(DOCS_VENV)/bin/python -m sphinx -W --keep-going -q -b doctest docs build/docs-doctest
	RUSTDOCFLAGS="-D warnings" cargo doc -q -p chervil --no-deps
	@rm -rf build/docs/rust && cp -r target/doc build/docs/rust

# A Rust user adds the crate with `cargo add chervil`: every crate it needs must package
# and build on its own from what it would upload (versions on path dependencies,
# metadata, no file outside the crate). Nothing is uploaded. The dry run serves the
# workspace's crates from a local registry as version 0.1.0, and cargo takes a registry
# version as immutable: its unpacked sources (under CARGO_HOME) and its builds are
# reused by version. So an earlier run's (older code, same version) are removed first,
# and the check builds in a target directory of its own.
PUBLISH_TARGET = target/publish-check
test-publish:
	rm -rf $(PUBLISH_TARGET) "$${CARGO_HOME:-$$HOME/.cargo}"/registry/src/-*/chervil-*
	CARGO_TARGET_DIR=$(PUBLISH_TARGET) cargo publish --workspace --dry-run --allow-dirty

# One wheel for CPython 3.9 and later (PyO3 abi3), manylinux2014 (glibc 2.17), linked by Zig so
# it runs on old cluster nodes; the pool is inside it. `make wheel WHEEL_TARGET=aarch64-unknown-linux-gnu`
# cross-builds for ARM (built here, not run: this machine cannot execute it).
WHEEL_TARGET ?= x86_64-unknown-linux-gnu
WHEEL_ARCH = $(word 1,$(subst -, ,$(WHEEL_TARGET)))
wheel:
	@$(PYTHON) -m pip install -q 'maturin>=1.7,<2' 'ziglang' 'auditwheel>=6'
	@rustup target list --installed 2>/dev/null | grep -qx $(WHEEL_TARGET) || rustup target add $(WHEEL_TARGET)
	@rm -f dist/chervil-*$(WHEEL_ARCH).whl
	$(PYTHON) -m maturin build --release --strip --zig --compatibility manylinux2014 --target $(WHEEL_TARGET) --out dist
	$(PYTHON) -m auditwheel show dist/chervil-*$(WHEEL_ARCH).whl

# The wheel as a user installs it: a venv per CPython 3.9 … 3.13 without cargo on PATH, the
# Monte Carlo example on HTEX and tests/wheel/smoke.py in each.
test-wheel: wheel
	scripts/wheel-smoke.sh dist/chervil-*x86_64.whl

# The decoders of every message another process sends, 10 million mutated cases each (the
# test run does 20,000): crates/chervil-proto/tests/fuzz.rs; and every scheduler/cloud answer
# parser, a million mangled answers each (crates/chervil-providers/tests/fuzz_parsers.rs); and
# 200,000 damaged checkpoint segments (crates/chervil-checkpoint/tests/fuzz_segments.rs).
FUZZ_CASES ?= 10000000
FUZZ_PARSER_CASES ?= 1000000
FUZZ_SEGMENT_CASES ?= 200000
fuzz:
	CHERVIL_FUZZ_CASES=$(FUZZ_CASES) cargo test --release -p chervil-proto --test fuzz -- --nocapture
	CHERVIL_FUZZ_CASES=$(FUZZ_PARSER_CASES) cargo test --release -p chervil-providers --test fuzz_parsers -- --nocapture
	CHERVIL_FUZZ_CASES=$(FUZZ_SEGMENT_CASES) cargo test --release -p chervil-checkpoint --test fuzz_segments -- --nocapture

# The chaos soak (scripts/chaos-soak.py): 100,000 mixed tasks on a real Slurm while workers,
# pools, blocks, the interchange port, the run directory's disk and the client itself are hit;
# fails unless every result is right and nothing is lost, re-run after restart or left behind.
# The test run does 10,000 tasks (tests/test_chaos.py). Needs root (tmpfs, Slurm).
SOAK_TASKS ?= 100000
soak: setup
	$(PYTHON) scripts/chaos-soak.py --tasks $(SOAK_TASKS) --provider slurm

# One interchange and 1,000 fake pools x 256 workers over real TCP (chervil-loadgen), then the
# dispatch core at 1,024,000 workers and the strategy at 10,000 blocks on a virtual clock
# (chervil-sim). Each prints a JSON line; the test run does small versions (crates/chervil-loadgen/tests).
loadgen:
	cargo build --release -p chervil-loadgen
	target/release/chervil-loadgen --pools 1000 --workers 256 --tasks 2000000
	target/release/chervil-loadgen --pools 1000 --workers 256 --tasks 2000000 --delay-ms 50
	target/release/chervil-sim

# Chervil beside Parsl on this machine; prints JSON lines and a Markdown table.
bench: setup parsl-venv
	CHERVIL_PARSL_PYTHON=$(CURDIR)/$(PARSL_VENV)/bin/python $(PYTHON) benchmarks/run.py
	@scripts/cctools.sh $(PYTHON) $(PARSL_VENV)/bin/python
	CHERVIL_PARSL_PYTHON=$(CURDIR)/$(PARSL_VENV)/bin/python $(PYTHON) benchmarks/cctools.py

clean:
	cargo clean
	rm -rf $(PARSL_VENV) runinfo
