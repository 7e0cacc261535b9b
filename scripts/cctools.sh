#!/usr/bin/env bash
# Builds CCTools (Work Queue, TaskVine, their workers and the `ndcctools` Python bindings)
# from the vendored source into a prefix inside the build tree, for the interpreter given,
# and points that interpreter at the bindings with a .pth file. Idempotent: a stamp holds
# the tarball's checksum and the interpreter's identity, and a matching stamp is a no-op.
#
#   scripts/cctools.sh PYTHON [PYTHON...]   (the first builds; the others only get the .pth)
#
# CCTools is GPL-2.0 software built here as a test and run dependency; none of it goes into
# Chervil's wheel. Needs gcc, make, swig, zlib headers and the interpreter's headers.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
python="${1:?usage: scripts/cctools.sh PYTHON [PYTHON...]}"
shift

tarball="${CCTOOLS_TARBALL:-}"
if [ -z "$tarball" ]; then
    for candidate in "$root"/../shared/vendor/cctools-*.tar.gz /work/shared/vendor/cctools-*.tar.gz; do
        if [ -f "$candidate" ]; then tarball="$candidate"; break; fi
    done
fi
if [ -z "$tarball" ] || [ ! -f "$tarball" ]; then
    echo "cctools: no CCTools source tarball found (looked in ../shared/vendor/ and /work/shared/vendor/);" >&2
    echo "cctools: set CCTOOLS_TARBALL=/path/to/cctools-*.tar.gz" >&2
    exit 1
fi

prefix="$root/build/cctools"
# What is left out of the build (part of the stamp: changing it rebuilds). The executors need
# work_queue, taskvine, their workers and factories, resource_monitor (ndcctools.taskvine
# imports it) and poncho (TaskVine's serverless libraries are packaged by it).
without="chirp doc ftp-lite grow makeflow parrot"
pyid="$("$python" -c 'import sys, sysconfig; print(sys.version.split()[0], sysconfig.get_paths()["include"])')"
stamp="$(sha256sum "$tarball" | cut -d' ' -f1) $pyid without: $without"
pyver="$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
site="$prefix/lib/python$pyver/site-packages"

# The bindings' own Python dependencies: cloudpickle and packaging (ndcctools.taskvine imports
# them), conda-pack and threadpoolctl (poncho, which builds TaskVine's serverless libraries,
# and the library process on the workers import them).
point_at_bindings() {
    local interp="$1" purelib
    purelib="$("$interp" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')"
    if [ "$(cat "$purelib/chervil-cctools.pth" 2>/dev/null)" != "$site" ]; then
        echo "$site" > "$purelib/chervil-cctools.pth"
    fi
    "$interp" -c 'import cloudpickle, conda_pack, packaging, threadpoolctl' 2>/dev/null || \
        "$interp" -m pip install -q 'cloudpickle>=2' 'conda-pack>=0.7' 'packaging' 'threadpoolctl>=3'
}

if [ "$(cat "$prefix/.stamp" 2>/dev/null)" != "$stamp" ]; then
    if ! command -v swig >/dev/null 2>&1; then
        if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
            apt-get update -q >/dev/null
            DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends swig zlib1g-dev >/dev/null
        else
            echo "cctools: swig is missing (Debian: apt-get install swig)" >&2; exit 1
        fi
    fi
    echo "cctools: building $(basename "$tarball") for Python $pyver into build/cctools (about a minute on 2 cores)"
    src="$root/build/cctools-src"
    rm -rf "$src" "$prefix"
    mkdir -p "$src"
    tar -xzf "$tarball" -C "$src" --strip-components=1
    log="$root/build/cctools-build.log"
    # The interpreter's own prefix: configure looks for bin/python3 and include/ under it
    # (a pyenv shim directory is not a prefix). Parrot, Makeflow, Chirp and the rest are not
    # needed by the executors (see $without above).
    pyprefix="$("$python" -c 'import sys; print(sys.prefix)')"
    configure=(./configure --prefix "$prefix" --with-python3-path "$pyprefix")
    for system in $without; do configure+=("--without-system-$system"); done
    if ! (cd "$src" && "${configure[@]}" && make -j"$(nproc)" && make install) > "$log" 2>&1; then
        tail -40 "$log" >&2
        echo "cctools: the build failed; the whole log is $log" >&2
        exit 1
    fi
    rm -rf "$src"
    "$python" -c "import sys; sys.path.insert(0, '$site'); import ndcctools.work_queue, ndcctools.taskvine, ndcctools.poncho"
    echo "$stamp" > "$prefix/.stamp"
    echo "cctools: built (log: $log)"
fi

point_at_bindings "$python"
for other in "$@"; do point_at_bindings "$other"; done
