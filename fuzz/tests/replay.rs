//! Replays every committed corpus file (and any crash artifact) through its check without
//! libFuzzer, on the stable toolchain: `cargo test` in `fuzz/`. A finding, once fixed, stays
//! fixed by adding its input to the corpus.

use std::path::Path;

type Check = fn(&[u8]);

const TARGETS: [(&str, Check); 10] = [
    ("cookie_header", cookie_session_fuzz::cookie_header),
    ("lazy_session", cookie_session_fuzz::lazy_session),
    ("encrypted_open", cookie_session_fuzz::encrypted_open),
    ("signed_open", cookie_session_fuzz::signed_open),
    ("express_open", cookie_session_fuzz::express_open),
    (
        "express_decode_value",
        cookie_session_fuzz::express_decode_value,
    ),
    ("session_id_parse", cookie_session_fuzz::session_id_parse),
    ("jwt_open", cookie_session_fuzz::jwt_open),
    (
        "express_session_sid",
        cookie_session_fuzz::express_session_sid,
    ),
    (
        "express_session_record",
        cookie_session_fuzz::express_session_record,
    ),
];

fn files(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut files: Vec<_> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

#[test]
fn corpus_and_artifacts_replay_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;
    for (target, check) in TARGETS {
        let seeds = files(&root.join("corpus").join(target));
        assert!(
            !seeds.is_empty(),
            "{target}: no seeds (cargo run --example seeds)"
        );
        for path in seeds
            .iter()
            .chain(files(&root.join("artifacts").join(target)).iter())
        {
            let data = std::fs::read(path).expect("readable corpus file");
            check(&data);
            replayed += 1;
        }
    }
    println!("{replayed} inputs replayed");
}

/// Every target `fuzz/Cargo.toml` declares is replayed here and fuzzed by CI
/// (`scripts/fuzz-long`'s `ALL_TARGETS`, which `scripts/fuzz-smoke` runs): a new target
/// missing from either list would go unfuzzed without anyone noticing.
#[test]
fn every_target_is_replayed_and_fuzzed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).expect("fuzz/Cargo.toml");
    let declared: Vec<&str> = manifest
        .split("[[bin]]")
        .skip(1)
        .filter_map(|bin| {
            let line = bin.lines().find(|l| l.starts_with("name = "))?;
            Some(line.trim_start_matches("name = ").trim_matches('"'))
        })
        .collect();
    let script = std::fs::read_to_string(root.join("../scripts/fuzz-long")).expect("fuzz-long");
    let all = script
        .split("ALL_TARGETS=(")
        .nth(1)
        .and_then(|rest| rest.split(')').next())
        .expect("ALL_TARGETS in scripts/fuzz-long");
    let fuzzed: Vec<&str> = all.split_whitespace().collect();
    let replayed: Vec<&str> = TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(declared.len(), TARGETS.len(), "{declared:?}");
    for name in &declared {
        assert!(replayed.contains(name), "{name} is not replayed");
        assert!(fuzzed.contains(name), "{name} is not in ALL_TARGETS");
    }
}

#[test]
fn sealed_seeds_open() {
    // The seeds must reach past the MAC, or the fuzzer starts blind.
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let secrets: Vec<&[u8]> = cookie_session_fuzz::NATIVE_SECRETS
        .iter()
        .map(|s| s.as_bytes())
        .collect();
    for (target, open) in [
        (
            "encrypted_open",
            cookie_session_fuzz::oracle::encrypted as fn(&[&[u8]], &str, &str) -> _,
        ),
        ("signed_open", cookie_session_fuzz::oracle::signed),
        ("jwt_open", cookie_session_fuzz::oracle::jwt),
    ] {
        let authentic = files(&root.join(target))
            .iter()
            .filter(|p| {
                let text = std::fs::read_to_string(p).unwrap_or_default();
                open(&secrets, cookie_session_fuzz::NAME, &text).is_some()
            })
            .count();
        assert!(
            authentic >= 10,
            "{target}: only {authentic} authentic seeds"
        );
    }
}

/// The `encrypted_open` seeds reach past the tag in both versions of the format: `0xE1`
/// (XChaCha20-Poly1305) and `0xE2` (XAES-256-GCM).
#[test]
fn both_encrypted_versions_are_seeded() {
    use base64::Engine as _;
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/encrypted_open");
    let secrets: Vec<&[u8]> = cookie_session_fuzz::NATIVE_SECRETS
        .iter()
        .map(|s| s.as_bytes())
        .collect();
    let mut authentic = [0usize; 2];
    for path in files(&root) {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        if cookie_session_fuzz::oracle::encrypted(&secrets, cookie_session_fuzz::NAME, &text)
            .is_none()
        {
            continue;
        }
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&text)
            .expect("an authentic value is base64url");
        match raw[0] {
            0xE1 => authentic[0] += 1,
            0xE2 => authentic[1] += 1,
            other => panic!("authentic with format byte {other:#x}"),
        }
    }
    assert!(authentic.iter().all(|&n| n >= 10), "{authentic:?}");
}

#[test]
fn header_seeds_reach_every_layer() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus/cookie_header");
    let headers: Vec<String> = files(&root)
        .iter()
        .map(|p| String::from_utf8_lossy(&std::fs::read(p).expect("readable")).into_owned())
        .collect();
    for layer in cookie_session_fuzz::LAYERS.iter() {
        let opened = headers
            .iter()
            .filter(|h| layer.layer.decode(h.split('\n')).is_ok())
            .count();
        assert!(
            opened >= 3,
            "{} (split {}): {opened} seeds open",
            layer.format,
            layer.split
        );
    }
}
