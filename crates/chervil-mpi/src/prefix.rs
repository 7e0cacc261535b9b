//! The launch prefixes and environment an MPI task sees, as Parsl composes them
//! (`parsl/executors/high_throughput/mpi_prefix_composer.py`), text for text: a task
//! written for Parsl's `$PARSL_MPI_PREFIX` gets the same command line.

use crate::spec::MpiSpec;

/// Which launcher `$PARSL_MPI_PREFIX` is (`MPIExecutor(mpi_launcher=...)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Launcher {
    Mpiexec,
    Srun,
    Aprun,
}

impl Launcher {
    pub fn parse(name: &str) -> Option<Launcher> {
        match name {
            "mpiexec" => Some(Launcher::Mpiexec),
            "srun" => Some(Launcher::Srun),
            "aprun" => Some(Launcher::Aprun),
            _ => None,
        }
    }

    /// [`parse`](Launcher::parse), or the error every front shows for a name it does not
    /// know, naming the three it does.
    pub fn named(name: &str) -> Result<Launcher, String> {
        Launcher::parse(name).ok_or_else(|| crate::ModeError::UnknownLauncher(name.to_string()).to_string())
    }
}

/// `PARSL_MPIEXEC_PREFIX` and friends, `PARSL_MPI_PREFIX`, and the counts and node list,
/// for a task given `nodes`.
pub fn environment(launcher: Launcher, spec: &MpiSpec, nodes: &[String]) -> Vec<(&'static str, String)> {
    let list = nodes.join(",");
    let (n, ppn, opts) = (&spec.num_ranks_text, &spec.ranks_per_node_text, &spec.launcher_options);
    // Parsl joins the arguments with spaces, options last even when empty (a trailing space).
    let mpiexec = format!("mpiexec -n {n} -ppn {ppn} -hosts {list} {opts}");
    let srun = format!("srun --ntasks {n} --ntasks-per-node {ppn} --nodelist {list} --nodes {} {opts}", nodes.len());
    let aprun = format!("aprun -n {n} -N {ppn} -node-list {list} {opts}");
    let chosen = match launcher {
        Launcher::Mpiexec => mpiexec.clone(),
        Launcher::Srun => srun.clone(),
        Launcher::Aprun => aprun.clone(),
    };
    vec![
        ("PARSL_APRUN_PREFIX", aprun),
        ("PARSL_SRUN_PREFIX", srun),
        ("PARSL_MPIEXEC_PREFIX", mpiexec),
        ("PARSL_MPI_PREFIX", chosen),
        ("PARSL_NUM_NODES", nodes.len().to_string()),
        ("PARSL_MPI_NODELIST", list),
        ("PARSL_RANKS_PER_NODE", ppn.clone()),
        ("PARSL_NUM_RANKS", n.clone()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spec::Value::Int;

    #[test]
    fn prefixes_read_as_parsls() {
        let spec = MpiSpec::parse(&[("num_nodes".into(), Int(2)), ("ranks_per_node".into(), Int(2))]).unwrap();
        let nodes = vec!["n1".to_string(), "n2".to_string()];
        let env: std::collections::HashMap<_, _> = environment(Launcher::Mpiexec, &spec, &nodes).into_iter().collect();
        assert_eq!(env["PARSL_MPIEXEC_PREFIX"], "mpiexec -n 4 -ppn 2 -hosts n1,n2 ");
        assert_eq!(env["PARSL_SRUN_PREFIX"], "srun --ntasks 4 --ntasks-per-node 2 --nodelist n1,n2 --nodes 2 ");
        assert_eq!(env["PARSL_APRUN_PREFIX"], "aprun -n 4 -N 2 -node-list n1,n2 ");
        assert_eq!(env["PARSL_MPI_PREFIX"], env["PARSL_MPIEXEC_PREFIX"]);
        assert_eq!((env["PARSL_NUM_NODES"].as_str(), env["PARSL_MPI_NODELIST"].as_str()), ("2", "n1,n2"));
        assert_eq!((env["PARSL_RANKS_PER_NODE"].as_str(), env["PARSL_NUM_RANKS"].as_str()), ("2", "4"));
        let srun: std::collections::HashMap<_, _> = environment(Launcher::Srun, &spec, &nodes).into_iter().collect();
        assert_eq!(srun["PARSL_MPI_PREFIX"], srun["PARSL_SRUN_PREFIX"]);
        assert_eq!(Launcher::parse("mpirun"), None);
        assert_eq!(Launcher::named("mpirun"), Err("mpi_launcher \"mpirun\" is unknown; choose 'mpiexec', 'srun' or 'aprun'".to_string()));
    }

    #[test]
    fn derived_ranks_per_node_print_as_parsl_prints_them() {
        // Parsl 2026.10.26, validate_resource_spec + compose_all for {'num_nodes': 2, 'num_ranks': 4}:
        let spec = MpiSpec::parse(&[("num_nodes".into(), Int(2)), ("num_ranks".into(), Int(4))]).unwrap();
        let env: std::collections::HashMap<_, _> =
            environment(Launcher::Mpiexec, &spec, &["n1".into(), "n2".into()]).into_iter().collect();
        assert_eq!(env["PARSL_MPIEXEC_PREFIX"], "mpiexec -n 4 -ppn 2.0 -hosts n1,n2 ");
        assert_eq!(env["PARSL_SRUN_PREFIX"], "srun --ntasks 4 --ntasks-per-node 2.0 --nodelist n1,n2 --nodes 2 ");
        // With num_ranks alone Parsl prints '-ppn None'; here the one node takes every rank.
        let spec = MpiSpec::parse(&[("num_ranks".into(), Int(4))]).unwrap();
        let env: std::collections::HashMap<_, _> =
            environment(Launcher::Mpiexec, &spec, &["n1".into()]).into_iter().collect();
        assert_eq!(env["PARSL_MPIEXEC_PREFIX"], "mpiexec -n 4 -ppn 4 -hosts n1 ");
    }
}
