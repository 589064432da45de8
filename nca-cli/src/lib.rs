//! The library side of the `nca` binary: which burn backends this build has, for the binary and
//! for tests that run on every compiled backend.

pub mod backend;
