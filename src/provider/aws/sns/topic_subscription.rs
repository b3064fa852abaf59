//! `aws:sns/TopicSubscription` (Terraform `aws_sns_topic_subscription`). The
//! topic, protocol and endpoint are the identity and force a replacement;
//! raw message delivery changes in place. The id is the subscription ARN.
//!
//! As Terraform: Subscribe asks for the ARN even before confirmation, so an
//! email (or unconfirmed http/https) subscription gets its pending ARN at once
//! and is not waited for; the protocols AWS confirms itself (sqs, lambda,
//! firehose, application, sms) are waited for. An unsubscribe that AWS refuses
//! because the subscription is still pending confirmation is done: AWS drops
//! it after three days, or with its topic.

use std::collections::HashMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::Sns;
use crate::model::{Input, Output, Resource, ResourceArgs};
use crate::provider::aws::call::{Call, Retry};
use crate::provider::aws::check_arn;
use crate::provider::aws::resource::{AwsResource, Live};
use crate::provider::aws::validate::one_of;
use crate::provider::aws::wait::{Seen, Wait};
use crate::provider::schema::{Schema, Tf};
use crate::provider::ProviderError;

/// The protocols SNS delivers to.
pub const PROTOCOLS: &[&str] = &[
    "application",
    "email",
    "email-json",
    "firehose",
    "http",
    "https",
    "lambda",
    "sms",
    "sqs",
];

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicSubscription {
    pub topic_arn: Input<String>,
    /// One of [`PROTOCOLS`].
    pub protocol: String,
    /// An email address, URL, queue / function / stream ARN, phone number.
    pub endpoint: Input<String>,
    /// Deliver the message as published, without the SNS envelope (sqs,
    /// http/https and firehose only).
    pub raw_message_delivery: bool,
}

impl TopicSubscription {
    pub fn new(
        topic_arn: impl Into<Input<String>>,
        protocol: &str,
        endpoint: impl Into<Input<String>>,
    ) -> Self {
        TopicSubscription {
            topic_arn: topic_arn.into(),
            protocol: protocol.into(),
            endpoint: endpoint.into(),
            ..Default::default()
        }
    }

    /// An email subscription (pending until the recipient confirms it).
    pub fn email(topic_arn: impl Into<Input<String>>, address: &str) -> Self {
        Self::new(topic_arn, "email", address)
    }
}

impl ResourceArgs for TopicSubscription {
    const TYPE: &'static str = "aws:sns/TopicSubscription";
}

impl Resource<TopicSubscription> {
    pub fn arn(&self) -> Output<String> {
        self.output("arn")
    }
    /// Whether the endpoint has not confirmed yet (email, http/https).
    pub fn pending_confirmation(&self) -> Output<bool> {
        self.output("pending_confirmation")
    }
}

/// Whether AWS confirms subscriptions of `protocol` itself (Terraform waits
/// for those; email and http/https wait on a person or a server).
fn auto_confirmed(protocol: &str) -> bool {
    !protocol.contains("email") && !protocol.contains("http")
}

async fn attributes(
    cx: &Call<'_, Sns>,
    arn: &str,
) -> Result<Option<HashMap<String, String>>, ProviderError> {
    Ok(cx
        .find("GetSubscriptionAttributes", |c| {
            c.get_subscription_attributes().subscription_arn(arn).send()
        })
        .await?
        .map(|o| o.attributes().cloned().unwrap_or_default()))
}

fn flag(a: &HashMap<String, String>, k: &str) -> bool {
    a.get(k).is_some_and(|v| v == "true")
}

#[async_trait]
impl AwsResource for TopicSubscription {
    type Service = Sns;
    const SCHEMA: Schema = Schema {
        force_new: &["topic_arn", "protocol", "endpoint"],
        terraform: &[Tf {
            resource: "aws_sns_topic_subscription",
            args: &[
                ("topic_arn", "topic_arn"),
                ("protocol", "protocol"),
                ("endpoint", "endpoint"),
                ("raw_message_delivery", "raw_message_delivery"),
            ],
            import_id: "{id}",
        }],
        ..Schema::NONE
    };

    fn check(&self) -> Result<(), ProviderError> {
        one_of("protocol", &self.protocol, PROTOCOLS)?;
        if let Some(t) = self.topic_arn.known() {
            check_arn(
                "topic_arn",
                t,
                "sns",
                "",
                "an SNS topic ARN (arn:aws:sns:<region>:<account>:<name>)",
            )?;
        }
        if let Some(e) = self.endpoint.known() {
            let ok = match self.protocol.as_str() {
                "email" | "email-json" => e
                    .split_once('@')
                    .is_some_and(|(u, d)| !u.is_empty() && d.contains('.')),
                "http" => e.starts_with("http://"),
                "https" => e.starts_with("https://"),
                "sqs" => check_arn("endpoint", e, "sqs", "", "").is_ok(),
                "lambda" => check_arn("endpoint", e, "lambda", "function:", "").is_ok(),
                "firehose" => check_arn("endpoint", e, "firehose", "deliverystream/", "").is_ok(),
                "application" => check_arn("endpoint", e, "sns", "endpoint/", "").is_ok(),
                _ => !e.is_empty(),
            };
            if !ok {
                return Err(ProviderError::invalid(
                    "endpoint",
                    format!("{e:?}"),
                    format!("is not an endpoint of protocol {:?} (an email address, an http(s) URL, or the queue, function, stream or application endpoint ARN)", self.protocol),
                ));
            }
        }
        if self.raw_message_delivery
            && !matches!(
                self.protocol.as_str(),
                "sqs" | "http" | "https" | "firehose"
            )
        {
            return Err(ProviderError::invalid(
                "raw_message_delivery",
                true,
                format!(
                    "only sqs, http, https and firehose subscriptions take it, not {:?}",
                    self.protocol
                ),
            ));
        }
        Ok(())
    }

    async fn create(&self, cx: &Call<'_, Sns>) -> Result<String, ProviderError> {
        let topic = self.topic_arn.require("topic_arn")?;
        let endpoint = self.endpoint.require("endpoint")?;
        let mut attrs = HashMap::new();
        if self.raw_message_delivery {
            attrs.insert("RawMessageDelivery".to_string(), "true".to_string());
        }
        // Subscribe is idempotent on (topic, protocol, endpoint): a retry
        // after an interrupted create gets the same subscription back. The
        // topic may be moments old.
        let out = cx
            .send_retrying("Subscribe", &[Retry::NEW_OBJECT], |c| {
                c.subscribe()
                    .topic_arn(topic)
                    .protocol(&self.protocol)
                    .endpoint(endpoint)
                    .set_attributes(Some(attrs.clone()))
                    .return_subscription_arn(true)
                    .send()
            })
            .await?;
        out.subscription_arn()
            .map(str::to_string)
            .ok_or_else(|| cx.fatal("Subscribe returned no subscription ARN"))
    }

    async fn after_create(&self, cx: &Call<'_, Sns>, arn: &str) -> Result<(), ProviderError> {
        if !auto_confirmed(&self.protocol) {
            return Ok(());
        }
        Wait::new("SNS subscription", &["true"], &["false"])
            .after_create()
            .until(cx.settings(), || async {
                Ok(match attributes(cx, arn).await? {
                    Some(a) => Seen::State(
                        a.get("PendingConfirmation")
                            .cloned()
                            .unwrap_or_else(|| "false".into()),
                        (),
                    ),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn read(
        cx: &Call<'_, Sns>,
        arn: &str,
        _declared: &Self,
    ) -> Result<Option<Live<Self>>, ProviderError> {
        let Some(a) = attributes(cx, arn).await? else {
            return Ok(None);
        };
        let get = |k: &str| a.get(k).cloned().unwrap_or_default();
        let args = TopicSubscription {
            topic_arn: Input::Value(get("TopicArn")),
            protocol: get("Protocol"),
            endpoint: Input::Value(get("Endpoint")),
            raw_message_delivery: flag(&a, "RawMessageDelivery"),
        };
        let outputs = json!({
            "id": arn,
            "arn": arn,
            "pending_confirmation": flag(&a, "PendingConfirmation"),
            "owner_id": get("Owner"),
        });
        Ok(Some(Live { args, outputs }))
    }

    async fn update(&self, old: &Self, cx: &Call<'_, Sns>, arn: &str) -> Result<(), ProviderError> {
        if old.raw_message_delivery != self.raw_message_delivery {
            cx.send("SetSubscriptionAttributes", |c| {
                c.set_subscription_attributes()
                    .subscription_arn(arn)
                    .attribute_name("RawMessageDelivery")
                    .attribute_value(self.raw_message_delivery.to_string())
                    .send()
            })
            .await?;
        }
        Ok(())
    }

    async fn delete(&self, cx: &Call<'_, Sns>, arn: &str) -> Result<(), ProviderError> {
        let r = cx
            .try_send("Unsubscribe", |c| {
                c.unsubscribe().subscription_arn(arn).send()
            })
            .await;
        match r {
            Ok(_) => {}
            Err(f) if f.message.contains("pending confirmation") => return Ok(()),
            Err(f) => return Err(f.error),
        }
        Wait::new("SNS subscription", &["true", "false"], &[])
            .until_gone(cx.settings(), || async {
                Ok(match attributes(cx, arn).await? {
                    Some(a) => Seen::State(
                        a.get("PendingConfirmation")
                            .cloned()
                            .unwrap_or_else(|| "false".into()),
                        (),
                    ),
                    None => Seen::Gone,
                })
            })
            .await
    }

    async fn find(&self, cx: &Call<'_, Sns>) -> Result<Vec<String>, ProviderError> {
        // No tags: (topic, protocol, endpoint) is the identity, and SNS
        // itself treats a second Subscribe of it as the same subscription.
        // Pending ones are listed without an ARN; the retried Subscribe
        // returns their ARN.
        let (Some(topic), Some(endpoint)) = (self.topic_arn.known(), self.endpoint.known()) else {
            return Ok(Vec::new());
        };
        let Some(pages) = cx
            .find("ListSubscriptionsByTopic", |c| {
                c.list_subscriptions_by_topic().topic_arn(topic).send()
            })
            .await?
        else {
            return Ok(Vec::new());
        };
        // One page holds 100 subscriptions; more would be far beyond what a
        // topic of this stack carries, and a miss only means a new Subscribe.
        Ok(pages
            .subscriptions()
            .iter()
            .filter(|s| {
                s.protocol() == Some(self.protocol.as_str())
                    && s.endpoint() == Some(endpoint.as_str())
            })
            .filter_map(|s| s.subscription_arn())
            .filter(|a| a.starts_with("arn:"))
            .map(str::to_string)
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(v: serde_json::Value) -> Result<(), ProviderError> {
        serde_json::from_value::<TopicSubscription>(v)
            .unwrap()
            .check()
    }

    #[test]
    fn validation_names_field_and_value() {
        let t = "arn:aws:sns:us-east-1:123456789012:alarms";
        assert!(
            check(json!({"topic_arn": t, "protocol": "email", "endpoint": "ops@morket.io"}))
                .is_ok()
        );
        let e = check(json!({"topic_arn": t, "protocol": "pigeon", "endpoint": "x"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("protocol") && e.contains("pigeon"), "{e}");
        let e = check(json!({"topic_arn": t, "protocol": "email", "endpoint": "not-an-address"}))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("endpoint") && e.contains("not-an-address"),
            "{e}"
        );
        let e = check(json!({"topic_arn": "alarms", "protocol": "email", "endpoint": "a@b.c"}))
            .unwrap_err()
            .to_string();
        assert!(e.contains("topic_arn") && e.contains("alarms"), "{e}");
        let e = check(json!({"topic_arn": t, "protocol": "email", "endpoint": "a@b.c", "raw_message_delivery": true})).unwrap_err().to_string();
        assert!(e.contains("raw_message_delivery"), "{e}");
    }
}
