//! A plugin's stdout or stderr during one call: the first bytes are kept for the log, the rest
//! is counted and discarded. A write never fails, so a plugin that prints too much keeps
//! running (Rust's `println!` panics when its stream reports an error).

use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::Bytes;
use wasmtime_wasi::cli::{IsTerminal, StdoutStream};
use wasmtime_wasi::p2::{OutputStream, Pollable, StreamResult};

/// How much a stream accepts per write; the plugin may write again at once.
const WRITE_PERMIT: usize = 64 * 1024;

/// One call's capture of a plugin's output stream; clones share it.
#[derive(Debug, Clone)]
pub struct CapturedOutput {
    /// What was written, shared with every stream the plugin opened on it.
    inner: Arc<Mutex<Captured>>,
}

/// The kept bytes and the size of what was not kept.
#[derive(Debug, Default)]
struct Captured {
    /// The first `capacity` bytes written.
    kept: Vec<u8>,
    /// How many bytes `kept` may hold.
    capacity: usize,
    /// Bytes written past the capacity.
    discarded_bytes: usize,
    /// Line ends among them.
    discarded_lines: u64,
}

impl CapturedOutput {
    /// A capture that keeps at most `capacity` bytes.
    pub fn new(capacity: usize) -> Self {
        Self {
            inner: Arc::new(Mutex::new(Captured {
                capacity,
                ..Captured::default()
            })),
        }
    }

    /// The kept bytes, and how many lines and bytes were discarded past them.
    pub fn take(&self) -> (Vec<u8>, u64, usize) {
        let mut captured = self.inner.lock().unwrap();
        let discarded = (captured.discarded_lines, captured.discarded_bytes);
        captured.discarded_lines = 0;
        captured.discarded_bytes = 0;
        (std::mem::take(&mut captured.kept), discarded.0, discarded.1)
    }

    fn append(&self, bytes: &[u8]) {
        let mut captured = self.inner.lock().unwrap();
        if captured.kept.capacity() == 0 {
            let capacity = captured.capacity;
            captured.kept.reserve_exact(capacity);
        }
        let room = captured.capacity.saturating_sub(captured.kept.len());
        let (keep, discard) = bytes.split_at(room.min(bytes.len()));
        captured.kept.extend_from_slice(keep);
        if !discard.is_empty() {
            captured.discarded_bytes += discard.len();
            captured.discarded_lines += discard.iter().filter(|&&b| b == b'\n').count() as u64;
        }
    }
}

impl IsTerminal for CapturedOutput {
    fn is_terminal(&self) -> bool {
        false
    }
}

impl StdoutStream for CapturedOutput {
    fn p2_stream(&self) -> Box<dyn OutputStream> {
        Box::new(self.clone())
    }

    fn async_stream(&self) -> Box<dyn tokio::io::AsyncWrite + Send + Sync> {
        Box::new(self.clone())
    }
}

impl OutputStream for CapturedOutput {
    fn write(&mut self, bytes: Bytes) -> StreamResult<()> {
        self.append(&bytes);
        Ok(())
    }

    fn flush(&mut self) -> StreamResult<()> {
        Ok(())
    }

    fn check_write(&mut self) -> StreamResult<usize> {
        Ok(WRITE_PERMIT)
    }
}

#[async_trait::async_trait]
impl Pollable for CapturedOutput {
    async fn ready(&mut self) {}
}

impl tokio::io::AsyncWrite for CapturedOutput {
    fn poll_write(self: Pin<&mut Self>, _: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        self.append(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_first_bytes_and_counts_the_rest_without_failing() {
        let capture = CapturedOutput::new(8);
        let mut stream = capture.p2_stream();
        stream.write(Bytes::from_static(b"one\ntwo\nthree\nfour\n")).unwrap();
        assert_eq!(stream.check_write().unwrap(), WRITE_PERMIT);
        let (kept, lines, bytes) = capture.take();
        assert_eq!((kept.as_slice(), lines, bytes), (&b"one\ntwo\n"[..], 2, 11));
        assert_eq!(capture.take(), (Vec::new(), 0, 0));
    }
}
