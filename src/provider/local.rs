//! stub
pub struct FileProvider;
