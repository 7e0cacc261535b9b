//! Round trips, and the promise that no byte sequence makes a decoder panic.

use chervil_proto::*;

fn samples_up() -> Vec<ToInterchange> {
    vec![
        ToInterchange::Hello(Hello {
            version: PROTOCOL_VERSION,
            token: b"s3cret".to_vec(),
            hostname: "node-1".into(),
            block_id: "0".into(),
            workers: 4,
            cores: 8,
            memory_mb: 16_000,
            python_version: "3.11.7".into(),
            package_version: env!("CARGO_PKG_VERSION").into(),
        }),
        ToInterchange::Results(vec![
            TaskResult { task: 1, outcome: Outcome::Ok(vec![1, 2, 3]), started_us: 1_795_638_154_000_000, ended_us: 1_795_638_154_000_250 },
            TaskResult { task: 2, outcome: Outcome::Err(vec![]), started_us: 0, ended_us: 0 },
            TaskResult { task: 7, outcome: Outcome::Refused("too many nodes".into()), started_us: 0, ended_us: 0 },
            TaskResult { task: u64::MAX, outcome: Outcome::WorkerLost("killed by signal 9".into()), started_us: 1, ended_us: u64::MAX },
        ]),
        ToInterchange::Results(vec![]),
        ToInterchange::Resources(vec![ResourceSample {
            task: 5,
            at_us: 1_795_638_154_000_000,
            pid: 4242,
            cpu_num: 1,
            state: b'R',
            user_s: 1.25,
            system_s: 0.5,
            rss_bytes: 120 << 20,
            vms_bytes: 900 << 20,
            memory_percent: 0.48,
            read_bytes: 4096,
            write_bytes: 0,
            ctx_voluntary: 16,
            ctx_involuntary: 238,
            children: 2,
        }]),
        ToInterchange::Heartbeat,
        ToInterchange::Draining,
    ]
}

fn samples_down() -> Vec<ToPool> {
    vec![
        ToPool::Welcome { pool: 7, heartbeat_period_ms: 30_000 },
        ToPool::Reject { reason: "wrong token".into() },
        ToPool::Functions(vec![FunctionMsg { function: 11, blob: vec![1; 300] }]),
        ToPool::Tasks(vec![
            TaskMsg { task: 3, function: 11, payload: vec![9; 1000], spec: vec![] },
            TaskMsg {
                task: 4,
                function: 12,
                payload: vec![],
                spec: vec![("num_nodes".into(), "2".into()), ("launcher_options".into(), "--bind-to core".into())],
            },
        ]),
        ToPool::Heartbeat,
        ToPool::Shutdown,
    ]
}

#[test]
fn round_trip() {
    for m in samples_up() {
        assert_eq!(ToInterchange::decode(&m.encode()).unwrap(), m);
    }
    for m in samples_down() {
        assert_eq!(ToPool::decode(&m.encode()).unwrap(), m);
    }
}

#[test]
fn an_owned_body_becomes_its_first_large_payload() {
    let big = |n: usize, seed: u8| -> Vec<u8> { (0..n).map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed)).collect() };
    let up = ToInterchange::Results(vec![
        TaskResult { task: 1, outcome: Outcome::Ok(vec![1, 2]), started_us: 5, ended_us: 6 },
        TaskResult { task: 2, outcome: Outcome::WorkerLost("gone".into()), started_us: 0, ended_us: 0 },
        TaskResult { task: 3, outcome: Outcome::Err(big(300_000, 1)), started_us: 7, ended_us: 8 },
        TaskResult { task: 4, outcome: Outcome::Ok(big(200_000, 2)), started_us: 9, ended_us: 10 },
    ]);
    let body = up.encode();
    let at = body.as_ptr();
    let got = ToInterchange::decode_owned(body).expect("decodes");
    assert_eq!(got, up);
    let ToInterchange::Results(results) = &got else { panic!("{got:?}") };
    let Outcome::Err(kept) = &results[2].outcome else { panic!("{results:?}") };
    assert_eq!(kept.as_ptr(), at, "the body's buffer, not a copy");

    let down = ToPool::Tasks(vec![
        TaskMsg { task: 3, function: 11, payload: big(100_000, 3), spec: vec![("priority".into(), "1".into())] },
        TaskMsg { task: 4, function: 11, payload: vec![5; 10], spec: vec![] },
    ]);
    let body = down.encode();
    let at = body.as_ptr();
    let got = ToPool::decode_owned(body).expect("decodes");
    assert_eq!(got, down);
    let ToPool::Tasks(tasks) = &got else { panic!("{got:?}") };
    assert_eq!(tasks[0].payload.as_ptr(), at);
    let functions = ToPool::Functions(vec![FunctionMsg { function: 1, blob: vec![1; 10] }, FunctionMsg { function: 2, blob: big(70_000, 4) }]);
    assert_eq!(ToPool::decode_owned(functions.encode()).expect("decodes"), functions);
    // small messages, and every sample, decode the same either way
    for m in samples_up() {
        assert_eq!(ToInterchange::decode_owned(m.encode()).expect("decodes"), m);
    }
    for m in samples_down() {
        assert_eq!(ToPool::decode_owned(m.encode()).expect("decodes"), m);
    }
}

#[test]
fn a_message_framed_in_place_is_the_framed_message() {
    let mut direct = vec![7u8];
    let mut framed = vec![7u8];
    for m in samples_up() {
        m.encode_frame(&mut direct);
        encode_frame(&m.encode(), &mut framed);
    }
    for m in samples_down() {
        m.encode_frame(&mut direct);
        encode_frame(&m.encode(), &mut framed);
    }
    assert!(direct == framed, "appended after what was there, frame for frame");
}

#[test]
fn frames_survive_any_split() {
    let mut stream = Vec::new();
    let msgs = samples_down();
    for m in &msgs {
        encode_frame(&m.encode(), &mut stream);
    }
    for chunk in [1, 2, 3, 7, 64, stream.len()] {
        let mut dec = FrameDecoder::default();
        let mut got = Vec::new();
        for piece in stream.chunks(chunk) {
            dec.extend(piece);
            while let Some(body) = dec.next_frame().unwrap() {
                got.push(ToPool::decode(&body).unwrap());
            }
        }
        assert_eq!(got, msgs, "chunk size {chunk}");
        assert_eq!(dec.buffered(), 0);
    }
}

#[test]
fn oversized_frame_is_refused_before_reading_it() {
    let mut dec = FrameDecoder::new(1024);
    dec.extend(&(1u32 << 31).to_be_bytes());
    assert_eq!(dec.next_frame(), Err(FrameError::TooLarge { len: 1 << 31, max: 1024 }));
    // HTTP spoken at the port is refused the same way, under the limit the interchange
    // holds a connection to until it proves the secret (64 KiB)
    let mut dec = FrameDecoder::new(64 * 1024);
    dec.extend(b"GET / HTTP/1.1\r\n\r\n");
    assert!(matches!(dec.next_frame(), Err(FrameError::TooLarge { .. })));
}

#[test]
fn every_truncation_is_an_error() {
    for m in samples_up() {
        let body = m.encode();
        for cut in 0..body.len() {
            assert!(ToInterchange::decode(&body[..cut]).is_err(), "{m:?} cut at {cut}");
        }
        let mut longer = body.clone();
        longer.push(0);
        assert_eq!(ToInterchange::decode(&longer), Err(DecodeError::Trailing { trailing: 1 }));
    }
    for m in samples_down() {
        let body = m.encode();
        for cut in 0..body.len() {
            assert!(ToPool::decode(&body[..cut]).is_err(), "{m:?} cut at {cut}");
        }
    }
}

#[test]
fn forged_counts_do_not_allocate() {
    // a Results message claiming 4 billion entries in 5 bytes
    let body = [2u8, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(ToInterchange::decode(&body), Err(DecodeError::Truncated { .. })));
    let body = [3u8, 0xff, 0xff, 0xff, 0xff];
    assert!(matches!(ToPool::decode(&body), Err(DecodeError::Truncated { .. })));
}

#[test]
fn unknown_tags_and_empty_token() {
    assert!(matches!(ToInterchange::decode(&[99]), Err(DecodeError::UnknownTag { tag: 99, .. })));
    assert!(matches!(ToPool::decode(&[0]), Err(DecodeError::UnknownTag { tag: 0, .. })));
    let hello = ToInterchange::Hello(Hello {
        version: 1, token: vec![], hostname: "h".into(), block_id: "".into(), workers: 1, cores: 1, memory_mb: 1,
        python_version: "3".into(),
        package_version: env!("CARGO_PKG_VERSION").into(),
    });
    assert_eq!(ToInterchange::decode(&hello.encode()), Err(DecodeError::Empty { field: "token" }));
}

#[test]
fn version_is_readable_from_any_hello() {
    let mut body = samples_up()[0].encode();
    body[1..3].copy_from_slice(&99u16.to_be_bytes());
    body.truncate(5); // a future layout we cannot decode
    assert_eq!(Hello::peek_version(&body), Some(99));
    assert_eq!(Hello::peek_version(&[2, 0, 1]), None);
}

#[test]
fn random_bytes_never_panic() {
    // a small deterministic fuzz: xorshift bytes, and mutations of valid messages
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let valid: Vec<Vec<u8>> = samples_up().iter().map(|m| m.encode()).chain(samples_down().iter().map(|m| m.encode())).collect();
    for i in 0..50_000 {
        let mut body = if i % 2 == 0 {
            (0..(next() % 64)).map(|_| next() as u8).collect::<Vec<u8>>()
        } else {
            valid[(next() as usize) % valid.len()].clone()
        };
        if !body.is_empty() {
            let at = (next() as usize) % body.len();
            body[at] = next() as u8;
        }
        let _ = ToInterchange::decode(&body);
        let _ = ToPool::decode(&body);
        let _ = ToInterchange::decode_owned(body.clone());
        let _ = ToPool::decode_owned(body.clone());
        let mut dec = FrameDecoder::new(4096);
        dec.extend(&body);
        while let Ok(Some(_)) = dec.next_frame() {}
    }
}

#[test]
fn token_comparison() {
    assert!(tokens_match(b"abc", b"abc"));
    assert!(!tokens_match(b"abc", b"abd"));
    assert!(!tokens_match(b"abc", b"abcd"));
}

#[test]
fn worker_frames() {
    use chervil_proto::worker::*;
    let body = encode_request(42, 5, b"call");
    assert_eq!(&body[..8], &42u64.to_be_bytes());
    assert_eq!(&body[8..16], &5u64.to_be_bytes());
    assert_eq!(&body[16..], b"call");
    let (mut framed, mut direct) = (Vec::new(), vec![9u8]);
    chervil_proto::encode_frame(&body, &mut framed);
    encode_request_frame(42, 5, b"call", &mut direct);
    assert_eq!(&direct[1..], &framed[..], "the direct frame is the framed request");
    let def = encode_function(5, b"fn");
    assert_eq!(&def[..8], &FUNCTION_DEF.to_be_bytes());
    let mut reply = 42u64.to_be_bytes().to_vec();
    reply.push(1);
    reply.extend_from_slice(b"exc");
    assert_eq!(decode_reply(reply.clone()).unwrap(), WorkerReply { task: 42, ok: false, value: b"exc".to_vec() });
    reply[8] = 7;
    assert!(decode_reply(reply.clone()).is_err());
    assert!(decode_reply(reply[..5].to_vec()).is_err());
}
