//! Delivery of alerts. To be written.
