//! Writes the hand-written seeds of `core_ops` and `store` (`chat_fuzz::{core_ops, store}::seeds`)
//! into `fuzz/corpus/<target>/seed-<name>`. Run from `fuzz/`: `cargo run --example seeds`.

fn main() -> std::io::Result<()> {
    let corpus = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let dir = corpus.join("store");
    std::fs::create_dir_all(&dir)?;
    for (name, bytes) in chat_fuzz::store::seeds() {
        let stats = chat_fuzz::store::run_bytes(&bytes);
        println!("store/seed-{name}: {} bytes, {stats:?}", bytes.len());
        std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
    }
    let dir = corpus.join("core_ops");
    std::fs::create_dir_all(&dir)?;
    for (name, scenario) in chat_fuzz::core_ops::seeds() {
        let bytes = scenario.encode();
        let decoded = chat_fuzz::core_ops::decode(&bytes);
        assert_eq!(decoded, scenario, "seed {name} does not round-trip through the byte format");
        let stats = chat_fuzz::core_ops::run(&scenario);
        println!("core_ops/seed-{name}: {} bytes, {stats:?}", bytes.len());
        std::fs::write(dir.join(format!("seed-{name}")), bytes)?;
    }
    Ok(())
}
