//! Files staged over rsync for workers that do not share the client's file system,
//! recorded in Parsl's monitoring database: the Rust half of `tests/test_fronts.py`'s
//! staging scenario, which runs the same workflow on the Python front (Parsl's
//! `RSyncStaging`) and compares the two databases.
//!
//! The files live in `$STAGE_REMOTE` on `$STAGE_HOST`, reached with the ssh command
//! in `$STAGE_RSH`; the tasks work in `$STAGE_WORK`. One task reads an input and
//! writes an output (copied in, then back), the next reads that output (copied in
//! again, as a worker elsewhere would need it), one forgets to write its output
//! (`MissingOutputs`), and one is given an input that is not there (`Error::Staging`).
//!
//!     STAGE_HOST=login STAGE_REMOTE=/data STAGE_WORK=/scratch/me cargo run --example rsync_staging [monitoring.db]

use chervil::{Config, File, HighThroughputExecutor, LocalProvider, MonitoringHub, Opts, RSyncStaging, Staging};

/// `src` in capitals, into `dst`; where it wrote.
#[chervil::app]
fn shout(src: File, dst: File) -> Result<String, std::io::Error> {
    let text = std::fs::read_to_string(src.filepath())?;
    std::fs::write(dst.filepath(), text.to_uppercase())?;
    Ok(dst.filepath().display().to_string())
}

/// The words in `f`.
#[chervil::app]
fn words(f: File) -> Result<usize, std::io::Error> {
    Ok(std::fs::read_to_string(f.filepath())?.split_whitespace().count())
}

/// Should write `dst`, and does not.
#[chervil::app]
fn forgets(dst: File) -> String {
    format!("did not write {dst}")
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let db = std::env::args().nth(1).unwrap_or_else(|| "runinfo/monitoring.db".into());
    let var = |name: &str| std::env::var(name).map_err(|_| chervil::Error::Executor(format!("set ${name}")));
    let (host, remote, work) = (var("STAGE_HOST")?, var("STAGE_REMOTE")?, var("STAGE_WORK")?);
    let rsh = std::env::var("STAGE_RSH").unwrap_or_else(|_| "ssh".into());
    let rsync = RSyncStaging::new(host).rsh(rsh.split_whitespace());
    let config = Config::new().monitoring(MonitoringHub::new().db(&db).workflow_name("rsync staging")).executor(
        HighThroughputExecutor::new()
            .max_workers_per_node(2)
            .working_dir(work)
            .storage_access([Staging::RSync(rsync)])
            .provider(LocalProvider::new().init_blocks(1).max_blocks(1)),
    );
    let dfk = chervil::load(config)?;
    let (input, output) = (File::new(format!("{remote}/in.txt")), File::new(format!("{remote}/out.txt")));
    let shouted = shout::with(Opts::new().outputs(vec![output.clone()]), input, output);
    let wrote = shouted.result()?;
    let counted = words(&shouted.outputs()[0]).result()?;
    let never = File::new(format!("{remote}/never.txt"));
    let forgot = forgets::with(Opts::new().outputs(vec![never.clone()]), never).result();
    let missing = matches!(forgot, Err(chervil::Error::MissingOutputs { .. }));
    let absent = words(File::new(format!("{remote}/absent.txt"))).result();
    let unstaged = matches!(absent, Err(chervil::Error::Staging { .. }));
    println!("wrote {wrote}; words {counted}; missing outputs {missing}; absent input {unstaged}");
    dfk.cleanup();
    Ok(())
}
