//! stub
pub struct SqliteStore;
