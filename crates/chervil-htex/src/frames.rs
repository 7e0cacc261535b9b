//! Whole frames from a byte stream, for every link the engine reads: the interchange's
//! connections from pools, a pool's connection to the interchange, and a pool's pipes
//! from its workers. The framing itself (`FrameDecoder`: lengths, limits) is
//! `chervil_proto`'s; this is only its async edge.

use chervil_proto::FrameDecoder;
use tokio::io::{AsyncRead, AsyncReadExt};

/// The next whole frame's body, or `None` at a clean end of stream (between frames).
/// `buf` is the read buffer, kept by the caller across calls.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    rd: &mut R,
    dec: &mut FrameDecoder,
    buf: &mut [u8],
) -> Result<Option<Vec<u8>>, String> {
    loop {
        match dec.next_frame() {
            Ok(Some(body)) => return Ok(Some(body)),
            Ok(None) => {}
            Err(e) => return Err(e.to_string()),
        }
        match rd.read(buf).await {
            Ok(0) if dec.buffered() == 0 => return Ok(None),
            Ok(0) => return Err("the stream ended in the middle of a frame".into()),
            Ok(n) => dec.extend(&buf[..n]),
            Err(e) => return Err(format!("read failed: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(body: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        chervil_proto::encode_frame(body, &mut out);
        out
    }

    #[tokio::test]
    async fn frames_arrive_whole_however_the_bytes_are_cut() {
        let mut bytes = frame(b"one");
        bytes.extend(frame(b"two"));
        let (mut tx, mut rx) = tokio::io::duplex(4);
        let writer = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            for chunk in bytes.chunks(3) {
                tx.write_all(chunk).await.unwrap();
            }
        });
        let (mut dec, mut buf) = (FrameDecoder::default(), vec![0u8; 2]);
        assert_eq!(read_frame(&mut rx, &mut dec, &mut buf).await, Ok(Some(b"one".to_vec())));
        assert_eq!(read_frame(&mut rx, &mut dec, &mut buf).await, Ok(Some(b"two".to_vec())));
        writer.await.unwrap();
        assert_eq!(read_frame(&mut rx, &mut dec, &mut buf).await, Ok(None), "a clean end between frames");
    }

    #[tokio::test]
    async fn an_end_inside_a_frame_is_an_error() {
        let cut = &frame(b"unfinished")[..6];
        let mut rd: &[u8] = cut;
        let (mut dec, mut buf) = (FrameDecoder::default(), vec![0u8; 64]);
        let got = read_frame(&mut rd, &mut dec, &mut buf).await;
        assert_eq!(got, Err("the stream ended in the middle of a frame".to_string()));
    }
}
