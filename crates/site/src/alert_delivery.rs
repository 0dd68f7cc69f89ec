//! Where alerts are delivered (`[alerts.delivery]` in `site.toml`). To be written.

/// Placeholder until the delivery settings land.
#[derive(Clone, Debug, Default, serde::Deserialize)]
pub struct DeliverySettings {}
