//! Criterion benchmarks of nca; run them with `cargo bench -p nca-benches`.
