//! Application Auto Scaling resource types (scalable target, scaling
//! policy), the `AppAutoScaling` service and the checks both types share.

use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_applicationautoscaling::types::{ScalableDimension, ServiceNamespace};

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::Tags;
use super::validate::one_of;
use super::Aws;
use crate::model::Input;
use crate::provider::{ProviderError, Registry};

pub mod policy;
pub mod target;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry
        .register(Typed::<target::Target>::new(aws.clone()))
        .register(Typed::<policy::Policy>::new(aws));
}

/// Application Auto Scaling as the call helper sees it; tags go by the
/// scalable target's ARN.
pub struct AppAutoScaling;

#[async_trait]
impl Service for AppAutoScaling {
    type Client = aws_sdk_applicationautoscaling::Client;
    const NAME: &'static str = "appautoscaling";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_applicationautoscaling::Client {
        aws.appautoscaling().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.appautoscaling
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("UntagResource", |c| {
                c.untag_resource()
                    .resource_arn(arn)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("TagResource", |c| {
                c.tag_resource()
                    .resource_arn(arn)
                    .set_tags(Some(set.clone().into_iter().collect()))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// The ECS service namespace and its one dimension, what Morket scales.
pub const ECS: &str = "ecs";
pub const ECS_DESIRED_COUNT: &str = "ecs:service:DesiredCount";

/// `service/<cluster>/<service>`: the resource id of an ECS service, joined
/// once the names are known (outputs of the cluster and service resources).
pub fn ecs_resource_id(
    cluster: impl Into<Input<String>>,
    service: impl Into<Input<String>>,
) -> Input<String> {
    match (cluster.into(), service.into()) {
        (Input::Value(c), Input::Value(s)) => Input::Value(format!("service/{c}/{s}")),
        (c, s) => Input::interpolate(
            "service/{cluster}/{service}",
            &[("cluster", c), ("service", s)],
        ),
    }
}

/// The namespace, the dimension (one of that namespace's) and, for ECS, the
/// shape of a known resource id.
pub fn check_target_key(
    namespace: &str,
    resource_id: &Input<String>,
    dimension: &str,
) -> Result<(), ProviderError> {
    one_of("service_namespace", namespace, ServiceNamespace::values())?;
    one_of("scalable_dimension", dimension, ScalableDimension::values())?;
    if !dimension.starts_with(&format!("{namespace}:")) {
        return Err(ProviderError::invalid(
            "scalable_dimension",
            format!("{dimension:?}"),
            format!("is not a dimension of the {namespace:?} namespace"),
        ));
    }
    if let Some(id) = resource_id.known() {
        let parts: Vec<&str> = id.split('/').collect();
        let ok = if namespace == ECS {
            parts.len() == 3 && parts[0] == "service" && parts.iter().all(|p| !p.is_empty())
        } else {
            !id.is_empty()
        };
        if !ok {
            return Err(ProviderError::invalid(
                "resource_id",
                format!("{id:?}"),
                if namespace == ECS {
                    "expected service/<cluster>/<service>"
                } else {
                    "must not be empty"
                },
            ));
        }
    }
    Ok(())
}

/// `<namespace>/<resource id>/<dimension>`, Terraform's import id of a
/// target (resource ids hold `/`; namespaces and dimensions do not).
pub fn target_id(namespace: &str, resource_id: &str, dimension: &str) -> String {
    format!("{namespace}/{resource_id}/{dimension}")
}

/// The parts of a [`target_id`].
pub fn split_target_id(id: &str) -> Result<(&str, &str, &str), ProviderError> {
    id.split_once('/')
        .and_then(|(ns, rest)| rest.rsplit_once('/').map(|(r, d)| (ns, r, d)))
        .filter(|(ns, r, d)| !ns.is_empty() && !r.is_empty() && !d.is_empty())
        .ok_or_else(|| {
            ProviderError::Fatal(format!(
                "{id:?} is not <service-namespace>/<resource-id>/<scalable-dimension>"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_ids_round_trip() {
        let id = target_id(ECS, "service/c/s", ECS_DESIRED_COUNT);
        assert_eq!(id, "ecs/service/c/s/ecs:service:DesiredCount");
        assert_eq!(
            split_target_id(&id).unwrap(),
            (ECS, "service/c/s", ECS_DESIRED_COUNT)
        );
        assert!(split_target_id("ecs").is_err());
    }

    #[test]
    fn ecs_resource_ids_join_known_names_at_once() {
        assert_eq!(
            ecs_resource_id("c", "s"),
            Input::Value("service/c/s".into())
        );
        let cluster = Input::Ref {
            urn: crate::model::Urn::new("st", "", "aws:ecs/Cluster", "c"),
            attr: "name".into(),
        };
        assert!(matches!(ecs_resource_id(cluster, "s"), Input::Concat(_)));
    }

    #[test]
    fn keys_are_checked() {
        let rid = Input::from("service/c/s");
        assert!(check_target_key(ECS, &rid, ECS_DESIRED_COUNT).is_ok());
        let e = check_target_key("ecz", &rid, ECS_DESIRED_COUNT).unwrap_err();
        assert!(e.to_string().contains("service_namespace = \"ecz\""), "{e}");
        let e = check_target_key(ECS, &rid, "rds:cluster:ReadReplicaCount").unwrap_err();
        assert!(e.to_string().contains("scalable_dimension"), "{e}");
        let e = check_target_key(ECS, &Input::from("c/s"), ECS_DESIRED_COUNT).unwrap_err();
        assert!(e.to_string().contains("resource_id = \"c/s\""), "{e}");
        assert!(check_target_key(ECS, &Input::Unknown, ECS_DESIRED_COUNT).is_ok());
    }
}
