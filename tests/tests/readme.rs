//! README's Rust snippets cannot rot: each one is an excerpt of a runnable example
//! (`*/examples/*.rs`), which `cargo test` compiles.

use std::path::{Path, PathBuf};

/// Lines without indentation and with runs of spaces collapsed (README aligns comments).
fn normalised(text: &str) -> Vec<String> {
    text.lines()
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|line| !line.is_empty())
        .collect()
}

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

fn examples() -> Vec<(PathBuf, Vec<String>)> {
    ["nca-core", "nca-data", "nca-train"]
        .iter()
        .flat_map(|krate| std::fs::read_dir(workspace().join(krate).join("examples")).unwrap())
        .map(|entry| entry.unwrap().path())
        .map(|path| {
            let text = std::fs::read_to_string(&path).unwrap();
            (path, normalised(&text))
        })
        .collect()
}

fn rust_snippets(readme: &str) -> Vec<String> {
    readme
        .split("```rust\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap().to_string())
        .collect()
}

#[test]
fn every_rust_snippet_of_the_readme_is_an_excerpt_of_an_example() {
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let examples = examples();
    let snippets = rust_snippets(&readme);
    assert!(snippets.len() >= 3, "README shows its Rust snippets");
    for snippet in snippets {
        let lines = normalised(&snippet);
        let found = examples.iter().find(|(_, example)| {
            example
                .windows(lines.len())
                .any(|window| window == lines.as_slice())
        });
        assert!(
            found.is_some(),
            "this README snippet is in no example under */examples/ (update the example and the README together):\n{snippet}"
        );
        let (path, _) = found.unwrap();
        let name = path.strip_prefix(workspace()).unwrap_or(Path::new(""));
        let link = name.display().to_string();
        assert!(
            readme.contains(&link),
            "README shows an excerpt of {link} without naming it"
        );
    }
}
