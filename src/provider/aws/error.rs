//! AWS errors → [`ProviderError`], keeping the AWS error code and message.

use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use crate::provider::ProviderError;

/// Codes AWS uses for throttling; always worth waiting and retrying.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
];

/// Codes for transient conflicts that settle on their own (a dependency still
/// being detached, an instance still starting).
const TRANSIENT: &[&str] = &[
    "DependencyViolation",
    "IncorrectState",
    "InvalidState",
    "ServiceUnavailable",
    "InternalError",
    "InternalFailure",
    "WAFInternalErrorException",
    // IAM and CloudWatch Logs: another call is changing the same entity, or a
    // transient failure of the service.
    "ConcurrentModification",
    "OperationAbortedException",
    "ServiceFailure",
    "ServiceUnavailableException",
    // A resource busy with another change; it settles on its own. Type files
    // retry these for longer where AWS is known to hold them (`call::Retry`).
    "IncorrectInstanceState",
    "InvalidDBClusterStateFault",
    "InvalidDBInstanceState",
    "InvalidDBParameterGroupState",
    "InvalidReplicationGroupState",
    "InvalidCacheClusterState",
    "InvalidCacheParameterGroupState",
];

const VALIDATION: &[&str] = &[
    "InvalidParameterValue",
    "InvalidParameterCombination",
    "InvalidParameter",
    "ValidationError",
    "ValidationException",
    "MissingParameter",
    "InvalidParameterException",
    "InvalidRequest",
    "WAFInvalidParameterException",
    // IAM.
    "InvalidInput",
    "MalformedPolicyDocument",
];

pub fn is_not_found_code(code: &str) -> bool {
    code.ends_with(".NotFound")
        || code.ends_with("NotFound")
        || code.ends_with("NotFoundFault")
        || code.ends_with("NotFoundException")
        || code == "ResourceNotFoundException"
        // S3, CloudFront, Route 53: NoSuchBucket, NoSuchDistribution,
        // NoSuchHostedZone, ... (IAM's NoSuchEntity too).
        || code.starts_with("NoSuch")
        // WAF: the web ACL, association or logging configuration is gone.
        || code == "WAFNonexistentItemException"
}

/// Maps an SDK error from `op`. The message names the operation, the AWS
/// code and message, not the URN: whoever reports the error prints it once.
pub fn map_op<E, R>(op: &str, e: SdkError<E, R>) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    R: std::fmt::Debug,
{
    match &e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            ProviderError::Retryable(format!("{op}: {}", describe(&e)))
        }
        _ => {
            let code = e.code().unwrap_or("Unknown").to_string();
            let msg = e.message().unwrap_or("").to_string();
            classify_op(op, &code, &msg)
        }
    }
}

/// Classifies an AWS error code of `op`, without naming the resource.
pub fn classify_op(op: &str, code: &str, msg: &str) -> ProviderError {
    let text = format!("{op}: {code}: {msg}");
    if THROTTLING.contains(&code) {
        ProviderError::Throttled(text)
    } else if TRANSIENT.contains(&code) {
        ProviderError::Retryable(text)
    } else if is_not_found_code(code) {
        ProviderError::NotFound(text)
    } else if VALIDATION.contains(&code) {
        ProviderError::InvalidInput {
            field: format!("{op} ({code})"),
            value: "(refused by AWS)".into(),
            reason: msg.to_string(),
        }
    } else {
        ProviderError::Fatal(text)
    }
}

fn describe<E: std::error::Error + 'static, R: std::fmt::Debug>(e: &SdkError<E, R>) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(inner) = src {
        s.push_str(": ");
        s.push_str(&inner.to_string());
        src = inner.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_map_to_the_error_enum() {
        assert!(classify_op("CreateVpc", "RequestLimitExceeded", "slow down").is_retryable());
        assert!(matches!(
            classify_op("DescribeVpcs", "InvalidVpcID.NotFound", ""),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            classify_op("DescribeDBClusters", "DBClusterNotFoundFault", ""),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            classify_op("GetRole", "NoSuchEntity", ""),
            ProviderError::NotFound(_)
        ));
        assert!(matches!(
            classify_op("DescribeLogGroups", "ResourceNotFoundException", ""),
            ProviderError::NotFound(_)
        ));
        assert!(classify_op("PutRolePolicy", "ConcurrentModification", "").is_retryable());
        assert!(matches!(
            classify_op("PutRolePolicy", "MalformedPolicyDocument", "bad"),
            ProviderError::InvalidInput { .. }
        ));
        match classify_op("CreateVpc", "InvalidParameterValue", "bad cidr") {
            ProviderError::InvalidInput { value, reason, .. } => {
                assert_eq!(value, "(refused by AWS)");
                assert_eq!(reason, "bad cidr");
            }
            other => panic!("{other:?}"),
        }
        let f = classify_op("CreateVpc", "UnauthorizedOperation", "no");
        assert_eq!(
            f.to_string(),
            "CreateVpc: UnauthorizedOperation: no",
            "the URN is printed once, by whoever reports the error"
        );
    }
}
