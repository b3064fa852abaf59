//! AWS resource types over the AWS SDK for Rust. One file per type. A type
//! implements [`resource::AwsResource`] (typed inputs, a schema table, check,
//! create, read, update, delete, find by `morket:urn` tag) and is registered
//! as [`resource::Typed`]; every request goes through [`call::Call`] and every
//! wait through [`wait::Wait`]. Lookups (data sources) implement
//! [`lookup::AwsLookup`] and are registered as [`lookup::Looked`].

use std::sync::Arc;

use crate::provider::{ProviderError, Registry};

pub mod acm;
pub mod appautoscaling;
pub mod backup;
pub mod call;
pub mod client;
pub mod cloudfront;
pub mod cloudwatch;
pub mod ec2;
pub mod ecr;
pub mod ecs;
pub mod elasticache;
pub mod elbv2;
pub mod error;
pub mod iam;
pub mod limits;
pub mod logs;
pub mod lookup;
pub mod mq;
pub mod opensearch;
pub mod rds;
pub mod resource;
pub mod route53;
pub mod s3;
pub mod secretsmanager;
pub mod service;
pub mod servicediscovery;
pub mod sns;
pub mod ssm;
pub mod sts;
pub mod tagging;
pub mod tags;
pub mod terraform;
pub mod validate;
pub mod wafv2;
pub mod wait;

pub use client::{Aws, AwsSettings};

/// Registers every AWS type, sharing one client set.
pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    let lag = aws.settings.lookup_lag;
    acm::register(registry, aws.clone());
    appautoscaling::register(registry, aws.clone());
    backup::register(registry, aws.clone());
    cloudfront::register(registry, aws.clone());
    cloudwatch::register(registry, aws.clone());
    ec2::register(registry, aws.clone());
    ecr::register(registry, aws.clone());
    ecs::register(registry, aws.clone());
    elasticache::register(registry, aws.clone());
    elbv2::register(registry, aws.clone());
    iam::register(registry, aws.clone());
    logs::register(registry, aws.clone());
    mq::register(registry, aws.clone());
    opensearch::register(registry, aws.clone());
    rds::register(registry, aws.clone());
    route53::register(registry, aws.clone());
    s3::register(registry, aws.clone());
    secretsmanager::register(registry, aws.clone());
    servicediscovery::register(registry, aws.clone());
    sns::register(registry, aws.clone());
    ssm::register(registry, aws.clone());
    sts::register(registry, aws.clone());
    wafv2::register(registry, aws.clone());
    registry.add_inventory(Arc::new(tagging::StackInventory::new(aws)));
    // Tag-filtered describes are eventually consistent on AWS.
    registry.set_lookup_lag("aws:", lag);
}

/// Checks that `arn` is `arn:<partition>:<service>:<region>:<account>:<resource_prefix>…`;
/// `expected` says what was wanted, for the error.
pub(crate) fn check_arn(
    field: &str,
    arn: &str,
    service: &str,
    resource_prefix: &str,
    expected: &str,
) -> Result<(), ProviderError> {
    let p: Vec<&str> = arn.splitn(6, ':').collect();
    if p.len() != 6 || p[0] != "arn" || p[2] != service || !p[5].starts_with(resource_prefix) {
        return Err(ProviderError::invalid(
            field,
            format!("{arn:?}"),
            format!("expected {expected}"),
        ));
    }
    Ok(())
}
