//! The `yiwang` command. See `yiwang --help`.

use clap::Parser;

#[actix_web::main]
async fn main() {
    let cli = yiwang_api::cli::Cli::parse();
    if let Err(e) = yiwang_api::cli::run(cli).await {
        eprintln!("yiwang: {e}");
        std::process::exit(1);
    }
}
