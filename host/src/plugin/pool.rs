//! Where plugin instances live: wasmtime's pooling allocator, sized for plugins.
//!
//! Every call still gets a fresh instance, but its linear memory, tables and instance data come
//! from slots reserved once at start-up rather than mapped and unmapped per call. When an
//! instance is dropped, its slot sets the memory back to the component's initial image: it
//! keeps up to `[sandbox] resident_mib` of the pages the call dirtied resident, restored (with
//! Linux's `PAGEMAP_SCAN`, only those pages are touched), and returns the rest to the kernel.
//! The pool is split into shards (one per core, up to 16), and a thread takes the slot its
//! shard last gave the same plugin, so a call no longer pays a page fault per page it touches,
//! nor the `munmap` and TLB shoot-down of the last call's memory. A plugin called from threads
//! of several shards warms a slot in each: resident memory is up to `resident_mib` per slot
//! used, not per plugin.

use wasmtime::{Enabled, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::config::Sandbox;

/// Most plugin instances alive at once: every analyzer of a cycle runs in parallel, besides
/// the aggregators, trial calls of versions being staged and calls abandoned at their
/// deadline. A call beyond it fails to instantiate, and says so. Each reserves 4 GiB of
/// address space for its memory (nothing resident until used).
pub const MAX_LIVE_INSTANCES: u32 = 256;
/// Core wasm instances, pool-wide: a Rust component has a handful, interpreters built with
/// componentize-py or componentize-js a few more.
const MAX_CORE_INSTANCES: u32 = 16 * MAX_LIVE_INSTANCES;
/// Tables, pool-wide (each core module defines at most one).
const MAX_TABLES: u32 = 4 * MAX_LIVE_INSTANCES;
/// Elements one table may hold: an interpreter's function table runs to tens of thousands.
/// The pool maps `MAX_TABLES` of them up front (800 MB of address space, nothing resident
/// until used).
const TABLE_ELEMENTS: usize = 100_000;
/// The largest linear memory wasm32 can address; the store's limiter enforces each plugin's
/// own cap below it.
const MAX_MEMORY_BYTES: usize = 1 << 32;

/// The pooling allocator for plugins under `sandbox`.
pub fn strategy(sandbox: &Sandbox) -> InstanceAllocationStrategy {
    let mut pool = PoolingAllocationConfig::new();
    pool.total_component_instances(MAX_LIVE_INSTANCES)
        .total_memories(MAX_LIVE_INSTANCES)
        .total_core_instances(MAX_CORE_INSTANCES)
        .total_tables(MAX_TABLES)
        .table_elements(TABLE_ELEMENTS)
        .max_memory_size(MAX_MEMORY_BYTES)
        .linear_memory_keep_resident(keep_resident(sandbox))
        .pagemap_scan(Enabled::Auto);
    InstanceAllocationStrategy::Pooling(pool)
}

/// `resident_mib` of `sandbox` in bytes, at most [`MAX_MEMORY_BYTES`].
fn keep_resident(sandbox: &Sandbox) -> usize {
    usize::try_from(sandbox.resident_mib.0.saturating_mul(1 << 20))
        .unwrap_or(usize::MAX)
        .min(MAX_MEMORY_BYTES)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn slots_keep_what_the_config_says_resident_up_to_what_wasm32_addresses() {
        assert_eq!(keep_resident(&Config::default().sandbox), 16 << 20);
        let config = Config::from_toml("[sandbox]\nresident_mib = 128\n").unwrap();
        assert_eq!(keep_resident(&config.sandbox), 128 << 20);
        let config = Config::from_toml("[sandbox]\nresident_mib = 4096\n").unwrap();
        assert_eq!(keep_resident(&config.sandbox), MAX_MEMORY_BYTES);
        let refused = Config::from_toml("[sandbox]\nresident_mib = 100000\n").unwrap_err();
        assert!(
            format!("{refused:#}").contains("must be from 0 to 4096 MiB"),
            "{refused:#}"
        );
    }
}
