//! Rebuilds the crate when a migration is added, changed or removed: `include_dir!` embeds
//! `migrations/`, but on stable Rust it cannot tell cargo which files it read, so a new
//! migration would otherwise be missing from a cached build.
fn main() {
    println!("cargo:rerun-if-changed=../../migrations");
}
