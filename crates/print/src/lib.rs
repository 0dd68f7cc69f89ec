//! Printing: what a document looks like on paper and on a label printer, and the two ways
//! out that need more than HTML (a PDF from a headless Chromium, raw commands to a
//! network printer).
//!
//! - [`formats`]: a site's print formats (`print_formats/{DocType}/{Name}.html`) and raw
//!   formats (`raw_formats/{DocType}/{Name}.{zpl|escpos|txt}`), plus the generated
//!   `Standard` format of every type, rendered in a sandbox ([`sandbox`]).
//! - [`pdf`]: one Chromium process, started on first use and reused, that turns HTML into
//!   PDF.
//! - [`printer`]: sending commands to a printer over raw TCP.
//!
//! Nothing here records anything: the server records each print through the Access Log
//! before it releases what these functions produce.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

pub mod formats;
pub mod pdf;
pub mod printer;
pub mod sandbox;

pub use formats::{FormatKind, PrintFormat, PrintFormats, RawKind, RenderError, STANDARD};
pub use pdf::{PdfError, PdfRenderer};
