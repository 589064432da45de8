//! Cross-crate tests of nca live in `tests/tests/`: they join `nca-data`, `nca-train` and
//! `nca-core` the way the `nca` binary does, without the binary.
