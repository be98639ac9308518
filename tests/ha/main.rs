//! Two daemons, one writer: an active/standby pair elected through a real etcd, writing to a
//! real memcached. Who wrote `pulse:status` tells which daemon leads: its `ha` object carries
//! the writer's id and term. The pair writes through a proxy that records every item with the
//! term in its flags, so that no test misses an older term written after a newer one; daemon
//! `a` reaches etcd through another, which can cut it off.

mod pair;

mod access;
mod board;
mod drift;
mod evidence;
mod failover;
mod state;
