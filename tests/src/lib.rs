//! Cross-crate and end-to-end tests of nca live in `tests/tests/`.
