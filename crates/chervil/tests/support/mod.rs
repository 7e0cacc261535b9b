//! For the test files with a `main` of their own (`harness = false`: their pools and
//! workers are the test program itself, so `main` must call `chervil::init()` first),
//! and a small HTTP server for the staging tests.
#![allow(dead_code)] // each test file uses some of it

/// Speaks enough of libtest's command line for `cargo nextest` and `cargo test`:
/// answers `--list` with the one test `name` (none for `--ignored`), and says whether
/// `name` should run — it should unless a filter is given that it does not contain.
pub fn should_run(name: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        if !args.iter().any(|a| a == "--ignored") {
            println!("{name}: test");
        }
        return false;
    }
    args.iter().skip(1).find(|a| !a.starts_with('-')).is_none_or(|f| name.contains(f.as_str()))
}

/// Serves `body` for `/data/numbers.txt` and 404 for anything else, on a loopback port,
/// for as many requests as come.
pub fn http_server(body: &'static str) -> u16 {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let mut reader = BufReader::new(stream);
            let mut request = String::new();
            let _ = reader.read_line(&mut request);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).map_or(true, |n| n == 0) || header.trim().is_empty() {
                    break;
                }
            }
            let mut stream = reader.into_inner();
            let found = request.starts_with("GET /data/numbers.txt ");
            let (status, text) = if found { ("200 OK", body) } else { ("404 Not Found", "no such file\n") };
            let _ = write!(stream, "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{text}", text.len());
        }
    });
    port
}
