//! The library side of the `nca` binary: which burn backends this build has, for the binary and
//! for tests that run on every compiled backend, and terminal output that never panics.

pub mod backend;
pub mod out;
