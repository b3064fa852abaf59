//! stub
pub struct SleepProvider;
