//! stub
pub struct RandomPasswordProvider;
pub struct RandomIdProvider;
