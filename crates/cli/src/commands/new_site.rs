//! `accesslog new-site DIR`

use std::path::PathBuf;

use clap::Args;

/// Create an empty site folder
///
/// The folder gets a commented site.toml and the folders for document types, reports,
/// print formats, raw print formats, private files and signing keys. Its SQLite database
/// is created inside it when the site is first served.
///
/// Example: accesslog new-site ./acme
#[derive(Debug, Args)]
pub struct Opts {
    /// The folder to create (it may exist, but must not already hold a site).
    dir: PathBuf,
    /// The site's display name.
    #[arg(long, default_value = "Access Log")]
    name: String,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    accesslog_site::create_site(&opts.dir, &opts.name, &[], None)?;
    let dir = opts.dir.display();
    println!("Created the site {dir}.");
    let verifier = accesslog_site::keys::load_verifier(&opts.dir)?;
    println!("The log's verifier key (give it to your auditors; it is also in keys/log.pub):");
    println!("  {}", verifier.verifier_key());
    println!("Next: add a System Manager, then serve it:");
    println!(
        "  accesslog user add --site {dir} admin@example.com --name \"Admin\" --role \"System Manager\" --password-stdin"
    );
    println!("  accesslog serve --site {dir}");
    Ok(())
}
