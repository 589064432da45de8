//! The library side of the `nca` binary: which burn backends this build has and where a command
//! computes ([`backend::Compute`]), for the binary, the benchmarks and the tests that run on every
//! compiled backend; the models a command can name; the memory check of the commands whose
//! inputs decide what they hold; terminal output that never panics.

pub mod backend;
pub mod memory;
pub mod models;
pub mod out;
