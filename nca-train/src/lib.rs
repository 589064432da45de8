//! Training of growing neural cellular automata (the paper's loss, sample pool and damage).
//!
//! Its place in the workspace: `nca-train -> nca-core`. The trainer lands with its own issue.
