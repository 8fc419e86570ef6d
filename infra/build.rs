//! Rebuilds the crate when a migration is added or edited: `embed_migrations!` reads the
//! `migrations/` folder at compile time, and cargo does not otherwise know to look at it.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
