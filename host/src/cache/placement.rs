//! Which memcached server holds which key.
//!
//! Keys are spread by rendezvous (highest random weight) hashing, scored exactly as Python's
//! `pymemcache` `HashClient` scores them (its default `RendezvousHash`): every server named
//! `host:port` as configured scores `murmur3_32("{host:port}-{key}", seed 0)`, the highest
//! score wins, and a tie goes to the greater name. A reader using `HashClient` with the same
//! server list finds every key; losing one server loses only the keys it held.
//!
//! In mirror mode every key goes to every server instead, so any one of them can answer.

use std::io::Cursor;

/// The server list and how keys map onto it.
#[derive(Debug, Clone)]
pub struct Placement {
    servers: Vec<String>,
    mirror: bool,
}

impl Placement {
    /// Keys over `servers` (as configured, `host:port`); every key on every server if `mirror`.
    pub fn new(servers: Vec<String>, mirror: bool) -> Self {
        Self { servers, mirror }
    }

    /// The servers, in configured order.
    pub fn servers(&self) -> &[String] {
        &self.servers
    }

    /// Indices of the servers `key` is written to.
    pub fn targets(&self, key: &str) -> impl Iterator<Item = usize> {
        if self.mirror || self.servers.len() == 1 {
            0..self.servers.len()
        } else {
            let owner = self.owner(key);
            owner..owner + 1
        }
    }

    /// The server that owns `key` under rendezvous hashing.
    pub fn owner(&self, key: &str) -> usize {
        let mut best: Option<(u32, usize)> = None;
        for (index, server) in self.servers.iter().enumerate() {
            let score = murmur3::murmur3_32(&mut Cursor::new(format!("{server}-{key}")), 0)
                .expect("hashing an in-memory buffer cannot fail");
            best = match best {
                Some((high, winner))
                    if high > score || (high == score && self.servers[winner] >= self.servers[index]) =>
                {
                    Some((high, winner))
                }
                _ => Some((score, index)),
            };
        }
        best.map_or(0, |(_, index)| index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scores_match_pymemcache_murmur3() {
        // murmur3_32 values printed by pymemcache 4.0.0's own implementation.
        let score = |s: &str| murmur3::murmur3_32(&mut Cursor::new(s), 0).unwrap();
        assert_eq!(score("127.0.0.1:11211-market:overview"), 2464647252);
        assert_eq!(score("hello"), 613153351);
    }

    #[test]
    fn keys_spread_over_servers_and_mirror_writes_everywhere() {
        let servers: Vec<String> = (0..3).map(|i| format!("127.0.0.1:{}", 11211 + i)).collect();
        let hashed = Placement::new(servers.clone(), false);
        let mut counts = [0; 3];
        for i in 0..3000 {
            let targets: Vec<usize> = hashed.targets(&format!("analysis:breakdown:S{i}")).collect();
            assert_eq!(targets.len(), 1);
            counts[targets[0]] += 1;
        }
        assert!(counts.iter().all(|&c| c > 800), "{counts:?}");
        let mirror = Placement::new(servers, true);
        assert_eq!(mirror.targets("market:overview").collect::<Vec<_>>(), [0, 1, 2]);
    }

    #[test]
    fn removing_a_server_moves_only_its_keys() {
        let three: Vec<String> = (0..3).map(|i| format!("10.0.0.{i}:11211")).collect();
        let two = three[..2].to_vec();
        let (a, b) = (Placement::new(three, false), Placement::new(two, false));
        for i in 0..1000 {
            let key = format!("k{i}");
            let owner = a.owner(&key);
            if owner < 2 {
                assert_eq!(b.owner(&key), owner, "{key}");
            }
        }
    }
}
