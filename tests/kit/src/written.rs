//! Every item clients store in memcached with the meta protocol's `ms`, as a [`Tap`] of a
//! [`Proxy`](crate::proxy::Proxy) in front of it sees them: key, client flags (an HA writer's
//! term) and value, in the order they were forwarded. Other commands pass unrecorded.

use std::sync::{Arc, Mutex};

use crate::proxy::{Reader, Tap};

/// One `ms` as forwarded.
#[derive(Debug, Clone)]
pub struct Written {
    /// The item's key.
    pub key: String,
    /// Its client flags (`F`), 0 when the command sets none.
    pub flags: u32,
    /// Its value.
    pub value: Vec<u8>,
}

/// The items stored through a proxy so far; clones share the record.
#[derive(Clone, Default)]
pub struct Writes {
    record: Arc<Mutex<Vec<Written>>>,
}

impl Writes {
    /// A copy of every item stored so far, in forwarding order.
    pub fn all(&self) -> Vec<Written> {
        self.record.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// The first item whose flags are below those of an item stored before it: an older writer
    /// after a newer one. With its position and the highest flags seen before it.
    pub fn first_going_back(&self) -> Option<(usize, Written, u32)> {
        let mut highest = 0;
        for (at, item) in self.all().into_iter().enumerate() {
            if item.flags < highest {
                return Some((at, item, highest));
            }
            highest = item.flags;
        }
        None
    }
}

impl Tap for Writes {
    fn connection(&self) -> Reader {
        let record = self.record.clone();
        let mut stream = MetaStream::default();
        Box::new(move |chunk| {
            for item in stream.feed(chunk) {
                record.lock().unwrap_or_else(|e| e.into_inner()).push(item);
            }
        })
    }
}

/// What one connection has sent and not yet been parsed.
#[derive(Default)]
struct MetaStream {
    pending: Vec<u8>,
}

impl MetaStream {
    /// Takes `chunk`, returns the `ms` commands it completes.
    fn feed(&mut self, chunk: &[u8]) -> Vec<Written> {
        self.pending.extend_from_slice(chunk);
        let mut items = Vec::new();
        let mut at = 0;
        while let Some(end) = find_line_end(&self.pending[at..]) {
            let line = String::from_utf8_lossy(&self.pending[at..at + end]).into_owned();
            let mut words = line.split(' ');
            if words.next() != Some("ms") {
                at += end + 2;
                continue;
            }
            let key = words.next().unwrap_or_default().to_string();
            let length: usize = words
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("an ms command without a length: {line:?}"));
            let data = at + end + 2;
            if self.pending.len() < data + length + 2 {
                break;
            }
            let flags = words
                .find_map(|w| w.strip_prefix('F'))
                .map_or(0, |f| f.parse().unwrap_or_else(|_| panic!("bad flags in {line:?}")));
            let value = self.pending[data..data + length].to_vec();
            items.push(Written { key, flags, value });
            at = data + length + 2;
        }
        self.pending.drain(..at);
        items
    }
}

/// Where the first `\r\n` of `bytes` starts.
fn find_line_end(bytes: &[u8]) -> Option<usize> {
    bytes.windows(2).position(|w| w == b"\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_split_anywhere_are_read_whole_and_other_commands_pass() {
        let wire = b"mn\r\nms a 3 T5 F7 q O0\r\nx\r\n\r\nms b 2 T5\r\nhi\r\nmg a v\r\n";
        for split in 0..wire.len() {
            let mut stream = MetaStream::default();
            let mut items = stream.feed(&wire[..split]);
            items.extend(stream.feed(&wire[split..]));
            let seen: Vec<_> = items
                .iter()
                .map(|i| (i.key.as_str(), i.flags, i.value.clone()))
                .collect();
            assert_eq!(
                seen,
                [("a", 7, b"x\r\n".to_vec()), ("b", 0, b"hi".to_vec())],
                "split at {split}"
            );
        }
    }

    #[test]
    fn an_item_below_the_highest_flags_before_it_is_found() {
        let writes = Writes::default();
        let mut tap = writes.connection();
        tap(b"ms a 1 F2\r\n1\r\nms b 1 F3\r\n1\r\nms c 1 F3\r\n1\r\n");
        assert!(writes.first_going_back().is_none());
        tap(b"ms d 1 F2\r\n1\r\n");
        let (at, item, highest) = writes.first_going_back().unwrap();
        assert_eq!((at, item.key.as_str(), highest), (3, "d", 3));
    }
}
