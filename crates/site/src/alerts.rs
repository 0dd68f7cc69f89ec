//! The alert rules' settings (`[alerts]` in `site.toml`). To be written.
