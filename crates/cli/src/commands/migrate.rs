//! `accesslog migrate --site DIR [--drop-removed-fields]`

use clap::Args;

/// Bring the database up to the site's document types
///
/// Creates missing tables and adds columns for new fields (what `serve` also does at
/// start-up), then lists the columns of fields that were removed from a definition: their
/// data is kept until you run this with --drop-removed-fields, which deletes it.
#[derive(Debug, Args)]
pub struct Opts {
    #[command(flatten)]
    site: crate::open::SiteArgs,
    /// Delete the columns (and data) of fields no longer in any definition.
    #[arg(long)]
    drop_removed_fields: bool,
}

pub async fn run(opts: Opts) -> anyhow::Result<()> {
    let (settings, store) = opts.site.open().await?;
    let doctypes = crate::open::doctypes(&settings, &*store).await?;
    let mut kept = 0;
    for doctype in doctypes.iter() {
        let removed = store.removed_columns(doctype).await?;
        if removed.is_empty() {
            continue;
        }
        if opts.drop_removed_fields {
            store.drop_columns(doctype, &removed).await?;
            println!("{}: dropped {}", doctype.name, removed.join(", "));
        } else {
            kept += removed.len();
            println!(
                "{}: kept the data of removed fields {}",
                doctype.name,
                removed.join(", ")
            );
        }
    }
    if kept > 0 {
        println!("Run again with --drop-removed-fields to delete that data.");
    }
    println!(
        "The database matches the site's {} document types.",
        doctypes.len()
    );
    Ok(())
}
