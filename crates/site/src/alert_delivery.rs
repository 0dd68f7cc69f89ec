//! Where alerts are delivered (`[alerts.delivery]` in `site.toml`). To be written.
