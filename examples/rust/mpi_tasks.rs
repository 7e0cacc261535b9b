//! MPI tasks sharing a block, recorded in Parsl's monitoring database: the Rust half of
//! `tests/test_fronts.py`'s MPI scenario, which runs the same workflow on the Python
//! front (Parsl's `MPIExecutor`) and compares the two databases.
//!
//! The block's nodes are three names in a PBS node file (all of them this machine, so
//! MPICH's `mpiexec` starts every rank here). Each task asks for its nodes and ranks;
//! one asks for what cannot work and is refused (`InvalidResourceSpecification`).
//!
//!     cargo run --example mpi_tasks [monitoring.db]

use chervil::{Config, HighThroughputExecutor, LocalProvider, MonitoringHub, Opts, ResourceSpec};

/// The nodes this task was given.
#[chervil::app]
fn nodes_given() -> usize {
    std::env::var("PARSL_MPI_NODELIST").unwrap_or_default().split(',').filter(|n| !n.is_empty()).count()
}

/// Each rank says hello through `$PARSL_MPI_PREFIX`.
#[chervil::bash_app]
fn ranks() -> String {
    "$PARSL_MPI_PREFIX sh -c 'echo hello; sleep 0.2'".to_string()
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let db = std::env::args().nth(1).unwrap_or_else(|| "runinfo/monitoring.db".into());
    let nodefile = std::path::Path::new(&db).with_extension("nodes");
    let host = std::process::Command::new("hostname").output().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let host = host.ok().filter(|h| !h.is_empty()).unwrap_or_else(|| "localhost".into());
    std::fs::write(&nodefile, format!("{host}\nlocalhost\n127.0.0.1\n")).map_err(|e| chervil::Error::Executor(e.to_string()))?;
    let config = Config::new()
        .monitoring(MonitoringHub::new().db(&db).workflow_name("mpi"))
        .executor(HighThroughputExecutor::mpi().label("mpi").max_workers_per_node(3).provider(
            LocalProvider::new().init_blocks(1).max_blocks(1).worker_init(format!("export PBS_NODEFILE={}", nodefile.display())),
        ));
    let dfk = chervil::load(config)?;
    let on = |nodes: u32| Opts::new().resource_specification(ResourceSpec::new().num_nodes(nodes).ranks_per_node(1));
    let exit = ranks::with(on(2)).result()?;
    let given: Vec<_> = [1, 2, 3, 1].into_iter().map(|n| nodes_given::with(on(n))).collect();
    let given = given.iter().map(|f| f.result()).collect::<Result<Vec<_>, _>>()?;
    let too_many = ResourceSpec::new().num_nodes(2).ranks_per_node(2).num_ranks(5);
    let refused = nodes_given::with(Opts::new().resource_specification(too_many)).result().is_err();
    println!("ranks exit {exit}; nodes given {given:?}; refused {refused}");
    dfk.cleanup();
    Ok(())
}
