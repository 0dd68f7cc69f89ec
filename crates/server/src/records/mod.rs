//! Records: documents of the site's types, over ERPNext's REST shape.

pub mod api;
pub mod backups;
pub mod files;
pub mod pages;
