//! AWS resource types over the AWS SDK for Rust. One file per type, each with
//! the same shape: typed inputs, validation, force-new fields, create (with
//! tags in the create call), read, update, delete, find by `morket:urn` tag.

use std::sync::Arc;

use crate::provider::Registry;

pub mod client;
pub mod ec2;
pub mod error;
pub mod limits;
pub mod mq;
pub mod opensearch;
pub mod tags;

pub use client::{Aws, AwsSettings};

/// Registers every AWS type, sharing one client set.
pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    ec2::register(registry, aws.clone());
    mq::register(registry, aws.clone());
    opensearch::register(registry, aws);
}
