//! How a long import is cut and reported: rows per write transaction and the progress callback.
//! A leaf, so that the parsing side of imports (`server/customer_data.rs`) names them without
//! importing `store/mod.rs`, which re-exports the store's import code that uses that parsing.

/// Rows per write transaction of an import.
pub const IMPORT_BATCH: usize = 1000;

/// Progress of a long import: called with the number of rows done so far.
pub type Progress<'a> = &'a (dyn Fn(u64) + Send + Sync);
