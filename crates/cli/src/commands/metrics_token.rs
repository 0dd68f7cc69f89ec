//! `accesslog metrics-token`: a new scrape token for `/metrics`, and the line for
//! `site.toml` that holds its SHA-256 (the token itself is kept only by the scraper).

use accesslog_core::secrets::{random_token, token_digest};
use clap::Args;

/// Make a scrape token for /metrics, and print the site.toml line that accepts it
#[derive(Debug, Args)]
pub struct Opts {}

pub async fn run(_opts: Opts) -> anyhow::Result<()> {
    let token = random_token();
    let digest = token_digest(&token);
    eprintln!("Give this token to the scraper (Authorization: Bearer TOKEN); it is shown once:");
    println!("{token}");
    eprintln!(
        "\nand put its SHA-256 in site.toml, then restart:\n\n[metrics]\ntoken_sha256 = \"{digest}\""
    );
    Ok(())
}
