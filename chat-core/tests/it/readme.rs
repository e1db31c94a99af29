//! The repository README's embed snippet is the crate README's (which runs as a doctest).

#[test]
fn readme_snippets_match() {
    let snippet = |text: &str| -> String {
        let start = text.find("```rust\n").expect("a rust snippet") + 8;
        let end = start + text[start..].find("```").expect("closed");
        text[start..end].to_owned()
    };
    let crate_readme = include_str!("../../README.md");
    let repo_readme = include_str!("../../../README.md");
    assert_eq!(snippet(crate_readme), snippet(repo_readme), "README.md and chat-core/README.md differ");
}
