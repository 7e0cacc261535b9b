"""``chervil-pool`` (or ``python -m chervil.pool``): the worker pool on a compute node.

Started by a provider's block through its launcher; connects to the interchange,
proves the run's secret (from ``CHERVIL_POOL_TOKEN``; over TLS pinned to the
certificate in ``CHERVIL_POOL_CERT_SHA256`` when the executor set one), and runs tasks on worker
processes until the interchange stops it or goes away. The pool itself is Rust
(``chervil._core.run_pool``); this module reads the command line.
"""
import argparse
import os
import sys


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog='chervil-pool', description=__doc__.splitlines()[0])
    p.add_argument('-a', '--addresses', required=True, help="comma-separated addresses of the interchange")
    p.add_argument('--port', type=int, required=True, help="the interchange's port")
    p.add_argument('--block-id', default='', help="the provider's block this pool runs in")
    p.add_argument('--logdir', default='.', help="where the pool and worker logs go")
    p.add_argument('--max-workers-per-node', type=int, default=None)
    p.add_argument('-c', '--cores-per-worker', type=float, default=1.0)
    p.add_argument('-m', '--mem-per-worker', type=float, default=None, help="GB of memory per worker")
    p.add_argument('--available-accelerators', nargs='*', default=[])
    p.add_argument('--cpu-affinity', default='none')
    p.add_argument('--hb-period', type=float, default=30.0)
    p.add_argument('--hb-threshold', type=float, default=120.0)
    p.add_argument('--drain-period', type=float, default=None)
    p.add_argument('--connect-timeout', type=float, default=60.0)
    p.add_argument('--mpi-launcher', choices=['mpiexec', 'srun', 'aprun'], default=None,
                   help="MPI mode: share the block's nodes among MPI tasks, launched with this")
    p.add_argument('--resource-interval', type=float, default=None,
                   help="seconds between samples of busy workers' processes, for monitoring (default: none)")
    p.add_argument('--worker-python', default=sys.executable, help="the Python that runs workers")
    p.add_argument('--debug', action='store_true')
    return p


def main(argv=None) -> int:
    args = _parser().parse_args(argv)
    token = os.environ.pop('CHERVIL_POOL_TOKEN', '')
    cert = os.environ.pop('CHERVIL_POOL_CERT_SHA256', None) or None  # set when the link uses TLS
    if not token:
        print("chervil-pool: no secret in CHERVIL_POOL_TOKEN; pools are started by the executor's blocks, "
              "which set it", file=sys.stderr)
        return 2
    from chervil import _core
    from chervil.log_utils import pool_side_logger
    host = _core.hostname()
    logdir = os.path.join(args.logdir, f"block-{args.block_id or 'manual'}", f"{host}-{os.getpid()}")
    os.makedirs(logdir, exist_ok=True)
    # Two logs, as the client has parsl.log and chervil.log: manager.log (Parsl's name) in the
    # run's format, this pool's life in a few records; pool.log, the engine's own records.
    _core.set_log_file(os.path.join(logdir, 'pool.log'), debug=args.debug)
    log = pool_side_logger('chervil.pool', os.path.join(logdir, 'manager.log'))
    if log is not None:
        log.info("Manager started on %s (pid %s) for block %s; interchange at %s port %s; "
                 "the engine's records: pool.log; workers' logs: worker_<rank>.log",
                 host, os.getpid(), args.block_id or '(none)', args.addresses, args.port)
    try:
        why = _core.run_pool(
            addresses=[a for a in args.addresses.split(',') if a], port=args.port, token=bytes.fromhex(token),
            block_id=args.block_id, worker_command=[args.worker_python, '-m', 'chervil.worker'], logdir=logdir,
            max_workers_per_node=args.max_workers_per_node, cores_per_worker=args.cores_per_worker,
            mem_per_worker=args.mem_per_worker, accelerators=args.available_accelerators,
            cpu_affinity=args.cpu_affinity, heartbeat_period=args.hb_period, heartbeat_threshold=args.hb_threshold,
            drain_period=args.drain_period, connect_timeout=args.connect_timeout, cert_sha256=cert,
            resource_interval=args.resource_interval, mpi_launcher=args.mpi_launcher)
    except (RuntimeError, ValueError) as e:
        if log is not None:
            log.error("Manager failed: %s", e)
        print(f"chervil-pool: {e}", file=sys.stderr)
        return 1
    if log is not None:
        log.info("Manager stopped: %s", why)
    if args.debug:
        print(f"chervil-pool: stopped ({why})", file=sys.stderr)
    return 0


if __name__ == '__main__':
    sys.exit(main())
