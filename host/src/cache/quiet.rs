//! Quiet pipelined sets: a batch of meta-protocol `ms … q` commands closed by an `mn` barrier,
//! to which memcached answers only the keys it did not store.
//!
//! `memcache::exp` 0.21 waits for an answer to every command (its quiet mode is internal). On
//! this machine memcached took 13.6 ms to store and answer 10,000 sets of 200 bytes on one
//! connection, and 7.7 ms to store them quietly: the answers were half of its work. A quiet
//! batch still reports each key it refused, by the opaque token (`O<position>`) the reply
//! carries. An error reply that names no key (`SERVER_ERROR object too large for cache`) makes
//! the whole answer [`Answer::Unattributed`], and the caller sends the batch again by halves to
//! learn which key it was. Every reply line is read within [`MAX_LINE`] bytes.

use std::io::{Error, ErrorKind, Result};
use std::sync::Mutex;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use crate::shared::entry::ValidEntry;

/// Bytes gathered before each socket write: few syscalls, and memcached starts storing while
/// the rest of the batch is still being encoded.
const SEND_BUFFER: usize = 256 * 1024;

/// The longest reply line read; memcached's are a few dozen bytes.
pub(super) const MAX_LINE: u64 = 1024;

/// Who writes a batch, and until when: the writer's term (stored with each item as its client
/// flags) and the check made before every socket write, dial and resend. Once it no longer holds (the
/// leader's lease is no longer proven), nothing more of the batch goes out.
#[derive(Clone, Copy)]
pub struct Fence<'a> {
    /// The writer's term, 0 without `[ha]`; memcached stores it with each item
    /// ([`item_flags`]).
    pub term: i64,
    /// Whether the writer may still send.
    pub holds: &'a (dyn Fn() -> bool + Sync),
}

impl Fence<'static> {
    /// A writer alone, with flags 0: it always holds.
    pub fn open() -> Self {
        Self {
            term: 0,
            holds: &|| true,
        }
    }
}

/// The client flags memcached stores with each item written in `term`: the term modulo 2^32
/// (memcached's flags are 32 bits), 0 without `[ha]`. Readers and `pulse verify` tell from them
/// which term wrote an item.
pub fn item_flags(term: i64) -> u32 {
    (term as u64 & u64::from(u32::MAX)) as u32
}

/// Why the rest of a batch was not sent: its fence stopped holding.
const FENCED: &str = "the writer's lease is no longer proven; the rest of the batch was not sent";

/// The error a batch ends with when its fence stops holding.
fn fenced() -> Error {
    Error::new(ErrorKind::PermissionDenied, FENCED)
}

/// Whether `error` is a fence that stopped holding rather than a failure of the server.
pub fn is_fenced(error: &Error) -> bool {
    error.kind() == ErrorKind::PermissionDenied && error.to_string() == FENCED
}

/// How memcached answered a quiet batch.
#[derive(Debug, PartialEq, Eq)]
pub enum Answer {
    /// Every key was stored except these: (position in the batch, memcached's reply).
    Stored(Vec<(usize, String)>),
    /// memcached answered an error that names no key (its first such reply is kept), so which
    /// keys were stored is unknown.
    Unattributed(String),
}

/// Connections to one memcached server for quiet batches.
pub struct QuietSets {
    /// `host:port`, resolved at each dial.
    addr: String,
    /// Connections whose last exchange ended cleanly, ready for the next batch.
    idle: Mutex<Vec<TcpStream>>,
    /// The longest a dial may take.
    connect_timeout: Duration,
}

impl QuietSets {
    /// Quiet batches to `addr`; nothing is dialed until the first one.
    pub fn new(addr: &str, connect_timeout: Duration) -> Self {
        Self {
            addr: addr.to_string(),
            idle: Mutex::default(),
            connect_timeout,
        }
    }

    /// Stores `entries[i]` for every `i` in `batch`. A connection left idle since the last
    /// cycle may have died with a restarted server; its batch is sent again once on a new
    /// connection (a set is idempotent).
    pub async fn send(&self, entries: &[ValidEntry], batch: &[usize], fence: Fence<'_>) -> Result<Answer> {
        let reused = self.idle.lock().unwrap().pop();
        if let Some(mut connection) = reused {
            match exchange(&mut connection, entries, batch, fence).await {
                Ok(answer) => {
                    self.keep(connection, &answer);
                    return Ok(answer);
                }
                Err(e) if is_fenced(&e) => return Err(e),
                Err(_) => {}
            }
        }
        if !(fence.holds)() {
            return Err(fenced());
        }
        let mut connection = self.dial().await?;
        let answer = exchange(&mut connection, entries, batch, fence).await?;
        self.keep(connection, &answer);
        Ok(answer)
    }

    /// Whether the server answers now: a new connection, an `mn` barrier and its `MN`, within
    /// the dial's timeout.
    pub async fn ping(&self) -> Result<()> {
        let ping = async {
            let mut connection = self.dial().await?;
            connection.write_all(b"mn\r\n").await?;
            let mut reader = BufReader::new(connection);
            let mut line = Vec::new();
            (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line).await?;
            match &line[..] {
                b"MN\r\n" => Ok(()),
                other => Err(protocol("an unexpected answer to mn", other)),
            }
        };
        tokio::time::timeout(self.connect_timeout, ping)
            .await
            .map_err(|_| Error::new(ErrorKind::TimedOut, "no answer to mn in time"))?
    }

    /// Forgets the idle connections, after the server was seen failing.
    pub fn forget(&self) {
        self.idle.lock().unwrap().clear();
    }

    async fn dial(&self) -> Result<TcpStream> {
        let connection = tokio::time::timeout(self.connect_timeout, TcpStream::connect(&self.addr))
            .await
            .map_err(|_| Error::new(ErrorKind::TimedOut, "connect timed out"))??;
        connection.set_nodelay(true)?;
        Ok(connection)
    }

    /// Keeps a connection for the next batch, unless memcached answered an error naming no key
    /// (whatever caused it, the connection is not trusted again).
    fn keep(&self, connection: TcpStream, answer: &Answer) {
        if matches!(answer, Answer::Stored(_)) {
            self.idle.lock().unwrap().push(connection);
        }
    }
}

/// Sends the batch and reads the answers at the same time, so a server that answers many
/// refusals never waits on a full socket while the client is still sending.
async fn exchange(
    connection: &mut TcpStream,
    entries: &[ValidEntry],
    batch: &[usize],
    fence: Fence<'_>,
) -> Result<Answer> {
    let (reader, writer) = connection.split();
    let ((), answer) = tokio::try_join!(send(writer, entries, batch, fence), answers(reader, batch.len()))?;
    Ok(answer)
}

/// Writes `ms <key> <bytes> T<ttl> [F<flags>] q O<position>` and the value for each entry,
/// then `mn`. Client flags 0 are memcached's default and are not sent.
async fn send(
    mut out: impl AsyncWrite + Unpin,
    entries: &[ValidEntry],
    batch: &[usize],
    fence: Fence<'_>,
) -> Result<()> {
    let flags = item_flags(fence.term);
    // Each write to the socket first checks the fence.
    let mut out = Fenced { out: &mut out, fence };
    // Sized to the batch when it is smaller: a buffer this large every cycle would be mapped
    // and unmapped by the allocator each time.
    let wire_bytes: usize = batch
        .iter()
        .map(|&i| entries[i].key.len() + entries[i].value.len() + 40)
        .sum();
    let mut buffer = Vec::with_capacity(wire_bytes.min(SEND_BUFFER) + 512);
    let mut number = itoa::Buffer::new();
    for (position, &i) in batch.iter().enumerate() {
        let entry = &entries[i];
        buffer.extend_from_slice(b"ms ");
        buffer.extend_from_slice(entry.key.as_bytes());
        buffer.push(b' ');
        buffer.extend_from_slice(number.format(entry.value.len()).as_bytes());
        buffer.extend_from_slice(b" T");
        buffer.extend_from_slice(number.format(entry.ttl).as_bytes());
        if flags != 0 {
            buffer.extend_from_slice(b" F");
            buffer.extend_from_slice(number.format(flags).as_bytes());
        }
        buffer.extend_from_slice(b" q O");
        buffer.extend_from_slice(number.format(position).as_bytes());
        buffer.extend_from_slice(b"\r\n");
        if entry.value.len() > SEND_BUFFER {
            out.write_all(&buffer).await?;
            buffer.clear();
            out.write_all(&entry.value).await?;
        } else {
            buffer.extend_from_slice(&entry.value);
        }
        buffer.extend_from_slice(b"\r\n");
        if buffer.len() >= SEND_BUFFER {
            out.write_all(&buffer).await?;
            buffer.clear();
        }
    }
    buffer.extend_from_slice(b"mn\r\n");
    out.write_all(&buffer).await
}

/// A socket that checks its writer's fence before each write.
struct Fenced<'a, W> {
    out: &'a mut W,
    fence: Fence<'a>,
}

impl<W: AsyncWrite + Unpin> Fenced<'_, W> {
    async fn write_all(&mut self, bytes: &[u8]) -> Result<()> {
        if !(self.fence.holds)() {
            return Err(fenced());
        }
        self.out.write_all(bytes).await
    }
}

/// Reads reply lines up to the barrier's `MN`.
async fn answers(reader: impl tokio::io::AsyncRead + Unpin, count: usize) -> Result<Answer> {
    let mut reader = BufReader::new(reader);
    let mut refused = Vec::new();
    let mut unattributed = None;
    let mut line = Vec::new();
    loop {
        line.clear();
        (&mut reader).take(MAX_LINE).read_until(b'\n', &mut line).await?;
        let Some(reply) = line.strip_suffix(b"\r\n") else {
            return Err(protocol("a reply line without its end", &line));
        };
        match Reply::parse(reply, count)? {
            Reply::Barrier => break,
            Reply::Refused(position) if refused.len() < count => {
                refused.push((position, String::from_utf8_lossy(reply).into_owned()));
            }
            Reply::Refused(_) => return Err(protocol("more refusals than keys", reply)),
            Reply::Unattributed => {
                unattributed.get_or_insert_with(|| String::from_utf8_lossy(reply).into_owned());
            }
        }
    }
    Ok(match unattributed {
        Some(reply) => Answer::Unattributed(reply),
        None => Answer::Stored(refused),
    })
}

/// One reply line of a quiet batch.
#[derive(Debug, PartialEq, Eq)]
enum Reply {
    /// `MN`: every command before the barrier was answered.
    Barrier,
    /// A meta status (`NS`, `EX`, `NF`) with the opaque token of the command it answers.
    Refused(usize),
    /// `SERVER_ERROR …`, `CLIENT_ERROR …` or `ERROR`: no token.
    Unattributed,
}

impl Reply {
    fn parse(reply: &[u8], count: usize) -> Result<Reply> {
        if reply == b"MN" {
            return Ok(Reply::Barrier);
        }
        if reply == b"ERROR" || reply.starts_with(b"SERVER_ERROR ") || reply.starts_with(b"CLIENT_ERROR ") {
            return Ok(Reply::Unattributed);
        }
        let mut words = reply.split(|&b| b == b' ');
        let status = words.next().unwrap_or_default();
        if status.len() != 2 || !status.iter().all(u8::is_ascii_uppercase) || status == b"HD" {
            return Err(protocol("an unexpected reply", reply));
        }
        let position = words
            .find_map(|word| word.strip_prefix(b"O"))
            .and_then(|token| std::str::from_utf8(token).ok()?.parse::<usize>().ok())
            .filter(|&position| position < count);
        position
            .map(Reply::Refused)
            .ok_or_else(|| protocol("a reply without a token of this batch", reply))
    }
}

/// The error of a reply that breaks the protocol, quoting its start.
pub(super) fn protocol(what: &str, reply: &[u8]) -> Error {
    let shown: String = String::from_utf8_lossy(reply).chars().take(80).collect();
    Error::new(ErrorKind::InvalidData, format!("memcached sent {what}: {shown:?}"))
}

#[cfg(test)]
mod tests;
