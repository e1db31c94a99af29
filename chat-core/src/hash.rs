//! The hasher of the core's in-memory indexes: `rustc-hash`'s FxHasher.
//!
//! `std`'s `RandomState` would make iteration order (and so output order) differ between runs;
//! the core must give the same outputs for the same inputs, so its hash maps use a fixed hasher.
//! Keys come from authenticated users, and every map is also bounded by membership, so HashDoS
//! resistance is not needed here.

use std::collections::HashMap;

pub(crate) use rustc_hash::FxHasher;

/// Builds [`FxHasher`]s; the hasher of the snapshot's hash maps.
pub(crate) type FxBuild = rustc_hash::FxBuildHasher;
pub(crate) type FxHashMap<K, V> = HashMap<K, V, FxBuild>;
