//! Criterion benchmarks of nca live in `benches/nca.rs`:
//! `cargo bench -p nca-benches --features criterion --profile dev`
//! (add `--features ndarray`, `wgpu`, … to compare backends).
