//! The part of the store that is the same SQL on both backends, written once.
//!
//! Both backends speak the same SQL for documents (placeholders `$1…`, `ON CONFLICT`,
//! `RETURNING`); what differs — the dialect, how values are bound, how the existing columns
//! are listed, how a file row is read — each backend supplies as `DIALECT`,
//! `EXISTING_COLUMNS`, `bind_all`, `file_from_row` and `const_file_select!`, and this macro
//! writes the rest.

mod accounts;
mod documents;
mod log;
