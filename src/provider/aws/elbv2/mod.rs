//! Elastic Load Balancing v2 resource types (application load balancers,
//! target groups, listeners, listener rules) and what they share: the tag
//! API (by ARN, `DescribeTags` at most 20 ARNs a call), name checks, and the
//! actions a listener and a rule take.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use async_trait::async_trait;
use aws_sdk_elasticloadbalancingv2::types::{
    Action as SdkAction, ActionTypeEnum, FixedResponseActionConfig, RedirectActionConfig,
    RedirectActionStatusCodeEnum, Tag,
};
use serde::{Deserialize, Serialize};

use super::call::Call;
use super::limits::TokenBucket;
use super::resource::Typed;
use super::service::Service;
use super::tags::{Tags, URN_TAG};
use super::validate::one_of;
use super::{check_arn, Aws};
use crate::model::Input;
use crate::provider::{ProviderError, Registry};

pub mod listener;
pub mod listener_rule;
pub mod load_balancer;
pub mod target_group;

pub fn register(registry: &mut Registry, aws: Arc<Aws>) {
    registry.register(Typed::<load_balancer::LoadBalancer>::new(aws.clone()));
    registry.register(Typed::<target_group::TargetGroup>::new(aws.clone()));
    registry.register(Typed::<listener::Listener>::new(aws.clone()));
    registry.register(Typed::<listener_rule::ListenerRule>::new(aws));
}

/// ELBv2 as the call helper sees it; tags go by ARN.
pub struct Elbv2;

#[async_trait]
impl Service for Elbv2 {
    type Client = aws_sdk_elasticloadbalancingv2::Client;
    const NAME: &'static str = "elbv2";
    const CONCURRENCY: usize = 5;

    async fn client(aws: &Aws) -> &aws_sdk_elasticloadbalancingv2::Client {
        aws.elbv2().await
    }

    fn bucket<'a>(aws: &'a Aws, _op: &str) -> &'a TokenBucket {
        &aws.limits.elbv2
    }

    async fn retag(
        cx: &Call<'_, Self>,
        arn: &str,
        set: &Tags,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !remove.is_empty() {
            cx.send("RemoveTags", |c| {
                c.remove_tags()
                    .resource_arns(arn)
                    .set_tag_keys(Some(remove.to_vec()))
                    .send()
            })
            .await?;
        }
        if !set.is_empty() {
            cx.send("AddTags", |c| {
                c.add_tags()
                    .resource_arns(arn)
                    .set_tags(Some(sdk_tags(set)))
                    .send()
            })
            .await?;
        }
        Ok(())
    }
}

/// Tags in the SDK's shape.
pub(crate) fn sdk_tags(t: &Tags) -> Vec<Tag> {
    t.iter()
        .map(|(k, v)| Tag::builder().key(k).value(v).build())
        .collect()
}

/// The tags of each ARN, `DescribeTags` taking at most 20 ARNs a call.
pub(crate) async fn tags_of(
    cx: &Call<'_, Elbv2>,
    arns: &[String],
) -> Result<BTreeMap<String, Tags>, ProviderError> {
    let mut out = BTreeMap::new();
    for chunk in arns.chunks(20) {
        let r = cx
            .send("DescribeTags", |c| {
                c.describe_tags()
                    .set_resource_arns(Some(chunk.to_vec()))
                    .send()
            })
            .await?;
        for d in r.tag_descriptions() {
            let tags = d
                .tags()
                .iter()
                .filter_map(|t| Some((t.key()?.to_string(), t.value().unwrap_or("").to_string())))
                .collect();
            out.insert(d.resource_arn().unwrap_or_default().to_string(), tags);
        }
    }
    Ok(out)
}

/// The objects among `arns`, by ARN, with one describe per 20 ARNs (the
/// API's limit). The ARN-list form fails the whole request when one ARN is
/// gone (`describe` answers `None`, `Call::find`): that chunk is described
/// again one ARN at a time, so a missing object is absent, not a failure.
pub(crate) async fn describe_by_arns<T, F, Fut>(
    arns: &[&str],
    describe: F,
) -> Result<HashMap<String, T>, ProviderError>
where
    F: Fn(Vec<String>) -> Fut,
    Fut: std::future::Future<Output = Result<Option<Vec<(String, T)>>, ProviderError>>,
{
    let mut arns = arns.to_vec();
    arns.sort_unstable();
    arns.dedup();
    let mut found = HashMap::new();
    for chunk in arns.chunks(20) {
        let chunk: Vec<String> = chunk.iter().map(|a| a.to_string()).collect();
        match describe(chunk.clone()).await? {
            Some(objects) => found.extend(objects),
            None if chunk.len() > 1 => {
                for arn in chunk {
                    found.extend(describe(vec![arn]).await?.unwrap_or_default());
                }
            }
            None => {}
        }
    }
    Ok(found)
}

/// The object's own tags (the declaration's view).
pub(crate) async fn own_tags(cx: &Call<'_, Elbv2>, arn: &str) -> Result<Tags, ProviderError> {
    let all = tags_of(cx, &[arn.to_string()]).await?;
    Ok(all.get(arn).map(|t| cx.own_tags(t)).unwrap_or_default())
}

/// Those of `arns` tagged with this resource's URN.
pub(crate) async fn tagged_ours(
    cx: &Call<'_, Elbv2>,
    arns: Vec<String>,
) -> Result<Vec<String>, ProviderError> {
    if arns.is_empty() {
        return Ok(arns);
    }
    let tags = tags_of(cx, &arns).await?;
    Ok(arns
        .into_iter()
        .filter(|a| {
            tags.get(a)
                .and_then(|t| t.get(URN_TAG))
                .is_some_and(|v| cx.ctx.urn_tag_matches(v))
        })
        .collect())
}

/// What CloudWatch dimensions take: `app/<name>/<id>` of a load balancer
/// ARN, `targetgroup/<name>/<id>` of a target group ARN.
pub(crate) fn arn_suffix(arn: &str) -> String {
    match arn.split_once(":loadbalancer/") {
        Some((_, s)) => s.to_string(),
        None => arn.rsplit_once(':').map_or("", |(_, s)| s).to_string(),
    }
}

/// Load balancer and target group names: 1 to 32 letters, digits and
/// hyphens, not starting or ending with a hyphen.
pub(crate) fn check_name(field: &str, name: &str) -> Result<(), ProviderError> {
    let ok = (1..=32).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            field,
            format!("{name:?}"),
            "1 to 32 letters, digits and hyphens, not starting or ending with a hyphen",
        ))
    }
}

/// A known ELBv2 ARN whose resource part starts with `prefix`.
pub(crate) fn check_elb_arn(
    field: &str,
    v: &Input<String>,
    prefix: &str,
    what: &str,
) -> Result<(), ProviderError> {
    match v.known() {
        Some(a) => check_arn(field, a, "elasticloadbalancing", prefix, what),
        None => Ok(()),
    }
}

/// What a listener (its default action) or a rule does with a request.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Action {
    /// `forward`, `redirect` or `fixed-response`.
    #[serde(rename = "type")]
    pub kind: String,
    /// For `forward`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target_group_arn: Option<Input<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<Redirect>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fixed_response: Option<FixedResponse>,
}

/// A redirect; the `#{...}` defaults keep that part of the request, as AWS does.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Redirect {
    pub protocol: String,
    pub port: String,
    pub host: String,
    pub path: String,
    pub query: String,
    /// `HTTP_301` (permanent) or `HTTP_302`.
    pub status_code: String,
}

impl Default for Redirect {
    fn default() -> Self {
        Redirect {
            protocol: "#{protocol}".into(),
            port: "#{port}".into(),
            host: "#{host}".into(),
            path: "/#{path}".into(),
            query: "#{query}".into(),
            status_code: "HTTP_301".into(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct FixedResponse {
    pub content_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message_body: Option<String>,
    /// `2XX`, `4XX` or `5XX`.
    pub status_code: String,
}

impl Default for FixedResponse {
    fn default() -> Self {
        FixedResponse {
            content_type: "text/plain".into(),
            message_body: None,
            status_code: "404".into(),
        }
    }
}

const CONTENT_TYPES: &[&str] = &[
    "text/plain",
    "text/css",
    "text/html",
    "application/javascript",
    "application/json",
];

impl Action {
    pub fn forward(target_group_arn: impl Into<Input<String>>) -> Self {
        Action {
            kind: "forward".into(),
            target_group_arn: Some(target_group_arn.into()),
            ..Default::default()
        }
    }

    /// HTTP to HTTPS on port 443, permanently (301).
    pub fn redirect_to_https() -> Self {
        Action {
            kind: "redirect".into(),
            redirect: Some(Redirect {
                protocol: "HTTPS".into(),
                port: "443".into(),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    pub fn fixed_response(status_code: &str, content_type: &str, body: Option<&str>) -> Self {
        Action {
            kind: "fixed-response".into(),
            fixed_response: Some(FixedResponse {
                content_type: content_type.into(),
                message_body: body.map(str::to_string),
                status_code: status_code.into(),
            }),
            ..Default::default()
        }
    }

    /// The part the type needs is there and no other.
    pub(crate) fn check(&self, field: &str) -> Result<(), ProviderError> {
        let f = |s: &str| format!("{field}.{s}");
        one_of(
            &f("type"),
            &self.kind,
            &["forward", "redirect", "fixed-response"],
        )?;
        let parts = [
            (
                "target_group_arn",
                self.target_group_arn.is_some(),
                "forward",
            ),
            ("redirect", self.redirect.is_some(), "redirect"),
            (
                "fixed_response",
                self.fixed_response.is_some(),
                "fixed-response",
            ),
        ];
        for (name, set, kind) in parts {
            if set != (self.kind == kind) {
                return Err(ProviderError::invalid(
                    &f(name),
                    if set { "set" } else { "unset" },
                    format!("{name} is required for, and only for, type = {kind:?}"),
                ));
            }
        }
        if let Some(tg) = &self.target_group_arn {
            check_elb_arn(
                &f("target_group_arn"),
                tg,
                "targetgroup/",
                "a target group ARN (arn:aws:elasticloadbalancing:<region>:<account>:targetgroup/<name>/<id>)",
            )?;
        }
        if let Some(r) = &self.redirect {
            one_of(
                &f("redirect.status_code"),
                &r.status_code,
                &["HTTP_301", "HTTP_302"],
            )?;
            if !r.protocol.starts_with("#{") {
                one_of(&f("redirect.protocol"), &r.protocol, &["HTTP", "HTTPS"])?;
            }
            if !r.port.starts_with("#{") && r.port.parse::<u16>().map_or(true, |p| p == 0) {
                return Err(ProviderError::invalid(
                    &f("redirect.port"),
                    format!("{:?}", r.port),
                    "a port 1 to 65535, or #{port}",
                ));
            }
            if !r.path.starts_with('/') {
                return Err(ProviderError::invalid(
                    &f("redirect.path"),
                    format!("{:?}", r.path),
                    "must start with /",
                ));
            }
        }
        if let Some(x) = &self.fixed_response {
            one_of(
                &f("fixed_response.content_type"),
                &x.content_type,
                CONTENT_TYPES,
            )?;
            let code_ok = x.status_code.len() == 3
                && x.status_code.chars().all(|c| c.is_ascii_digit())
                && matches!(x.status_code.as_bytes()[0], b'2' | b'4' | b'5');
            if !code_ok {
                return Err(ProviderError::invalid(
                    &f("fixed_response.status_code"),
                    format!("{:?}", x.status_code),
                    "a 2XX, 4XX or 5XX status code",
                ));
            }
            if x.message_body.as_ref().is_some_and(|b| b.len() > 1024) {
                return Err(ProviderError::invalid(
                    &f("fixed_response.message_body"),
                    "(longer than 1024 characters)",
                    "at most 1024 characters",
                ));
            }
        }
        Ok(())
    }

    /// The request shape; references must be known by now.
    pub(crate) fn to_sdk(&self, field: &str) -> Result<SdkAction, ProviderError> {
        let mut b = SdkAction::builder().r#type(ActionTypeEnum::from(self.kind.as_str()));
        if let Some(tg) = &self.target_group_arn {
            b = b.target_group_arn(tg.require(&format!("{field}.target_group_arn"))?);
        }
        if let Some(r) = &self.redirect {
            b = b.redirect_config(
                RedirectActionConfig::builder()
                    .protocol(&r.protocol)
                    .port(&r.port)
                    .host(&r.host)
                    .path(&r.path)
                    .query(&r.query)
                    .status_code(RedirectActionStatusCodeEnum::from(r.status_code.as_str()))
                    .build(),
            );
        }
        if let Some(x) = &self.fixed_response {
            b = b.fixed_response_config(
                FixedResponseActionConfig::builder()
                    .content_type(&x.content_type)
                    .status_code(&x.status_code)
                    .set_message_body(x.message_body.clone())
                    .build(),
            );
        }
        Ok(b.build())
    }

    /// The live action in these terms. A forward reads its one target group
    /// from `TargetGroupArn` or, when AWS gives only that, `ForwardConfig`.
    pub(crate) fn from_sdk(a: &SdkAction) -> Action {
        let kind = a
            .r#type()
            .map(|t| t.as_str().to_string())
            .unwrap_or_default();
        let target_group_arn = a
            .target_group_arn()
            .or_else(|| {
                a.forward_config()
                    .and_then(|f| f.target_groups().first())
                    .and_then(|t| t.target_group_arn())
            })
            .filter(|_| kind == "forward")
            .map(|t| Input::Value(t.to_string()));
        let redirect = a.redirect_config().map(|r| {
            let d = Redirect::default();
            Redirect {
                protocol: r.protocol().map_or(d.protocol, str::to_string),
                port: r.port().map_or(d.port, str::to_string),
                host: r.host().map_or(d.host, str::to_string),
                path: r.path().map_or(d.path, str::to_string),
                query: r.query().map_or(d.query, str::to_string),
                status_code: r
                    .status_code()
                    .map_or(d.status_code, |s| s.as_str().to_string()),
            }
        });
        let fixed_response = a.fixed_response_config().map(|x| FixedResponse {
            content_type: x.content_type().unwrap_or_default().to_string(),
            message_body: x.message_body().map(str::to_string),
            status_code: x.status_code().unwrap_or_default().to_string(),
        });
        Action {
            kind,
            target_group_arn,
            redirect,
            fixed_response,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffixes_and_names() {
        assert_eq!(
            arn_suffix(
                "arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/web/50dc6c495c0c9188"
            ),
            "app/web/50dc6c495c0c9188"
        );
        assert_eq!(
            arn_suffix("arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/api/73e2d6bc24d8a067"),
            "targetgroup/api/73e2d6bc24d8a067"
        );
        assert!(check_name("name", "morket-staging").is_ok());
        assert!(check_name("name", "-x").is_err());
        assert!(check_name("name", &"a".repeat(33)).is_err());
        assert!(check_name("name", "a_b").is_err());
    }

    #[test]
    fn actions_need_their_part_only() {
        assert!(Action::redirect_to_https().check("a").is_ok());
        assert!(Action::fixed_response("404", "text/plain", None)
            .check("a")
            .is_ok());
        let e = Action::fixed_response("302", "text/plain", None)
            .check("default_action")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("default_action.fixed_response.status_code") && e.contains("302"),
            "{e}"
        );
        let mut a = Action::redirect_to_https();
        a.target_group_arn = Some("x".into());
        let e = a.check("action").unwrap_err().to_string();
        assert!(e.contains("action.target_group_arn"), "{e}");
        let e = Action::forward("arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/app/x/1")
            .check("action")
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("action.target_group_arn") && e.contains("loadbalancer/app"),
            "{e}"
        );
        let back = Action::from_sdk(&Action::redirect_to_https().to_sdk("a").unwrap());
        assert_eq!(back, Action::redirect_to_https());
    }
}
