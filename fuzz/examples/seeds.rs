//! Writes the seed corpus: `cargo run --example seeds` in `fuzz/` (any toolchain, no fuzzer
//! needed). Replaces the `seed-*` files of `fuzz/corpus/<target>/`, leaving what the fuzzer
//! found alone.

use std::collections::BTreeMap;
use std::path::Path;

fn main() -> std::io::Result<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    let corpus = cookie_session_fuzz::seeds::corpus();
    for (target, _) in &corpus {
        let dir = root.join(target);
        if counts.insert(target, 0).is_none() && dir.exists() {
            for entry in std::fs::read_dir(&dir)? {
                let path = entry?.path();
                let is_seed = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with("seed-"));
                if is_seed {
                    std::fs::remove_file(path)?;
                }
            }
        }
        std::fs::create_dir_all(&dir)?;
    }
    let mut total = 0;
    for (target, bytes) in corpus {
        let n = counts.entry(target).or_default();
        std::fs::write(root.join(target).join(format!("seed-{n:03}")), &bytes)?;
        *n += 1;
        total += bytes.len();
    }
    for (target, n) in &counts {
        println!("{target}: {n} seeds");
    }
    println!("{total} bytes in all");
    Ok(())
}
