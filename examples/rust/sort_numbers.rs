//! Sort the numbers in a File with a bash app, then sum them with an app that gets the
//! sorted file through the DataFuture of the sort's output, so it waits for the sort.
//!
//!     cargo run --release --example sort_numbers [count]

use chervil::{Config, File, HighThroughputExecutor, LocalProvider, Opts};

#[chervil::bash_app]
fn sort_numbers(input: File, output: File) -> String {
    format!("sort -n '{}' > '{}'", input.filepath().display(), output.filepath().display())
}

#[chervil::app]
fn check_and_sum(sorted: File) -> Result<(u64, u64, u64), String> {
    let text = std::fs::read_to_string(sorted.filepath()).map_err(|e| e.to_string())?;
    let numbers: Vec<u64> = text.lines().filter_map(|l| l.trim().parse().ok()).collect();
    if numbers.windows(2).any(|w| w[0] > w[1]) {
        return Err("not sorted".into());
    }
    Ok((numbers[0], numbers[numbers.len() - 1], numbers.iter().sum()))
}

fn main() -> Result<(), chervil::Error> {
    chervil::init();
    let count: u64 = std::env::args().nth(1).and_then(|a| a.parse().ok()).unwrap_or(1000);
    let work = std::env::temp_dir().join(format!("chervil-sort-{}", std::process::id()));
    std::fs::create_dir_all(&work).expect("a scratch directory");
    // splitmix64: numbers without a dependency
    let mut state = 0x9e37_79b9_7f4a_7c15u64 ^ count;
    let numbers: Vec<u64> = (0..count)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) % 1_000_000
        })
        .collect();
    let unsorted = work.join("unsorted.txt");
    let text: Vec<String> = numbers.iter().map(u64::to_string).collect();
    std::fs::write(&unsorted, text.join("\n") + "\n").expect("the input file");

    let config = Config::new().executor(HighThroughputExecutor::new().provider(LocalProvider::new()));
    let dfk = chervil::load(config)?;
    let sorted = File::new(work.join("sorted.txt").to_string_lossy());
    let sort = sort_numbers::with(
        Opts::new().outputs(vec![sorted.clone()]),
        File::new(unsorted.to_string_lossy()),
        sorted,
    );
    let (smallest, largest, total) = check_and_sum(&sort.outputs()[0]).result()?;
    dfk.cleanup();
    assert_eq!(total, numbers.iter().sum::<u64>());
    println!("sorted {count} numbers: smallest {smallest}, largest {largest}, sum {total}");
    let _ = std::fs::remove_dir_all(&work);
    Ok(())
}
