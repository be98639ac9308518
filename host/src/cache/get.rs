//! Reading keys back, as `pulse verify` does: the meta protocol's `mg KEY v f` on one connection
//! per server, every reply bounded. A server gone wrong that announces a giant value, or answers
//! with an endless line, is refused with the reason before anything of that size is held.

use std::io::{Error, ErrorKind, Result};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

use super::quiet::{protocol, MAX_LINE};

/// A value read back, with the client flags it was stored with (a writer's term).
#[derive(Debug, PartialEq, Eq)]
pub struct Item {
    /// The value.
    pub value: Vec<u8>,
    /// Its client flags.
    pub flags: u32,
}

/// Reads keys from one memcached server.
pub struct ItemReader {
    /// `host:port`.
    addr: String,
    /// The largest value read.
    max_value_bytes: usize,
    /// How long one read (with a dial when needed) may take.
    timeout: Duration,
    /// The connection, once dialed; dropped after any failure.
    connection: Option<BufReader<TcpStream>>,
}

impl ItemReader {
    /// A reader of `addr` that refuses values above `max_value_bytes` and gives up on a read
    /// after `timeout`; nothing is dialed until the first read.
    pub fn new(addr: &str, max_value_bytes: usize, timeout: Duration) -> Self {
        Self {
            addr: addr.to_string(),
            max_value_bytes,
            timeout,
            connection: None,
        }
    }

    /// `key`'s value and flags, or `None` when it is missing.
    pub async fn get(&mut self, key: &str) -> Result<Option<Item>> {
        let read = tokio::time::timeout(self.timeout, self.read(key)).await;
        let result = read.unwrap_or_else(|_| Err(Error::new(ErrorKind::TimedOut, "no answer in time")));
        if result.is_err() {
            self.connection = None;
        }
        result
    }

    async fn read(&mut self, key: &str) -> Result<Option<Item>> {
        let connection = match &mut self.connection {
            Some(connection) => connection,
            None => self
                .connection
                .insert(BufReader::new(TcpStream::connect(&self.addr).await?)),
        };
        connection
            .get_mut()
            .write_all(format!("mg {key} v f\r\n").as_bytes())
            .await?;
        let mut line = Vec::new();
        (&mut *connection).take(MAX_LINE).read_until(b'\n', &mut line).await?;
        let Some(header) = line.strip_suffix(b"\r\n") else {
            return Err(protocol("a reply line without its end", &line));
        };
        if header == b"EN" {
            return Ok(None);
        }
        let (len, flags) = parse_value_header(header)?;
        if len > self.max_value_bytes {
            return Err(Error::new(
                ErrorKind::InvalidData,
                format!(
                    "memcached announces a value of {len} bytes for {key}, above the limit of {} bytes",
                    self.max_value_bytes
                ),
            ));
        }
        let mut value = vec![0; len + 2];
        connection.read_exact(&mut value).await?;
        if !value.ends_with(b"\r\n") {
            return Err(protocol("a value without its end", &value[len..]));
        }
        value.truncate(len);
        Ok(Some(Item { value, flags }))
    }
}

/// The size and client flags of a `VA <size> f<flags>` header.
fn parse_value_header(header: &[u8]) -> Result<(usize, u32)> {
    let text = std::str::from_utf8(header).map_err(|_| protocol("a reply that is not text", header))?;
    let mut words = text.split(' ');
    let (Some("VA"), Some(size)) = (words.next(), words.next()) else {
        return Err(protocol("an unexpected reply", header));
    };
    let len = size
        .parse()
        .map_err(|_| protocol("a value size that is not a number", header))?;
    let flags = words
        .find_map(|word| word.strip_prefix('f'))
        .map_or(Ok(0), str::parse)
        .map_err(|_| protocol("client flags that are not a number", header))?;
    Ok((len, flags))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn value_headers_are_read_strictly() {
        assert_eq!(parse_value_header(b"VA 12 f7").unwrap(), (12, 7));
        assert_eq!(parse_value_header(b"VA 0").unwrap(), (0, 0));
        assert!(parse_value_header(b"VA x f1").is_err());
        assert!(parse_value_header(b"SERVER_ERROR out of memory").is_err());
        assert!(parse_value_header(b"VA 99999999999999999999999").is_err());
    }
}
