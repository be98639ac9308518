//! Which connection holds each topic: a new topic goes to the first connection with room under
//! the exchange's per-connection limit (a new connection when none has), a topic no longer
//! wanted leaves its connection, and the rest stay where they are, so a change of the wanted
//! set costs only its difference in requests.

use std::collections::BTreeMap;

use super::connection::Topic;

/// Topics by connection.
#[derive(Debug, Default)]
pub(super) struct Placement {
    /// Each placed topic's connection, by name.
    placed: BTreeMap<String, (usize, Topic)>,
    /// Topics each connection holds.
    load: Vec<usize>,
}

/// What a change of the wanted set asks of each connection.
#[derive(Debug, Default, PartialEq)]
pub(super) struct Changes {
    /// Topics to subscribe, by connection.
    pub subscribe: BTreeMap<usize, Vec<Topic>>,
    /// Topics to unsubscribe, by connection.
    pub unsubscribe: BTreeMap<usize, Vec<Topic>>,
}

impl Placement {
    /// Places `wanted` (by name), at most `per_connection` a connection, and says what changes.
    pub(super) fn want(&mut self, wanted: &BTreeMap<String, Topic>, per_connection: usize) -> Changes {
        let mut changes = Changes::default();
        let gone: Vec<String> = self
            .placed
            .keys()
            .filter(|name| !wanted.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            let (connection, topic) = self.placed.remove(&name).expect("listed above");
            self.load[connection] -= 1;
            changes.unsubscribe.entry(connection).or_default().push(topic);
        }
        for (name, topic) in wanted {
            if self.placed.contains_key(name) {
                continue;
            }
            let connection = match self.load.iter().position(|&n| n < per_connection.max(1)) {
                Some(c) => c,
                None => {
                    self.load.push(0);
                    self.load.len() - 1
                }
            };
            self.load[connection] += 1;
            self.placed.insert(name.clone(), (connection, topic.clone()));
            changes.subscribe.entry(connection).or_default().push(topic.clone());
        }
        changes
    }

    /// How many connections there are (some may hold nothing now).
    pub(super) fn connections(&self) -> usize {
        self.load.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topics(names: &[&str]) -> BTreeMap<String, Topic> {
        names
            .iter()
            .map(|n| {
                let topic = Topic {
                    name: (*n).to_string(),
                    symbol: (*n).to_string(),
                    ticker: true,
                };
                ((*n).to_string(), topic)
            })
            .collect()
    }

    fn names(changes: &BTreeMap<usize, Vec<Topic>>) -> Vec<(usize, Vec<&str>)> {
        changes
            .iter()
            .map(|(c, ts)| (*c, ts.iter().map(|t| t.name.as_str()).collect()))
            .collect()
    }

    #[test]
    fn topics_fill_connections_up_to_the_limit_and_only_the_difference_moves() {
        let mut placement = Placement::default();
        let first = placement.want(&topics(&["A", "B", "C", "D", "E"]), 2);
        assert_eq!(
            names(&first.subscribe),
            [(0, vec!["A", "B"]), (1, vec!["C", "D"]), (2, vec!["E"])]
        );
        assert!(first.unsubscribe.is_empty());
        assert_eq!(placement.connections(), 3);

        // B is delisted and F listed: F takes B's room, nothing else moves.
        let second = placement.want(&topics(&["A", "C", "D", "E", "F"]), 2);
        assert_eq!(names(&second.unsubscribe), [(0, vec!["B"])]);
        assert_eq!(names(&second.subscribe), [(0, vec!["F"])]);
        assert_eq!(
            placement.want(&topics(&["A", "C", "D", "E", "F"]), 2),
            Changes::default()
        );
        let on: Vec<(&str, usize)> = placement.placed.iter().map(|(n, (c, _))| (n.as_str(), *c)).collect();
        assert_eq!(on, [("A", 0), ("C", 1), ("D", 1), ("E", 2), ("F", 0)]);
    }
}
