//! `time:` resources, modelled on Terraform's time provider.

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::schema::{Schema, Tf};
use super::{parse, Created, Ctx, Provider, ProviderError, ReadResult, TypeSchema};
use crate::model::{Input, ResourceArgs};

/// Longest accepted sleep: longer waits belong in a real readiness check.
pub const MAX_SLEEP: Duration = Duration::from_secs(3600);

/// Waits after create and/or before delete (`time_sleep`), e.g. to let an
/// eventually consistent API catch up. Its `id` is the RFC 3339 creation time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sleep {
    /// Humantime duration such as `"30s"` or `"1m 30s"`.
    #[serde(default)]
    pub create_duration: Option<String>,
    #[serde(default)]
    pub destroy_duration: Option<String>,
    /// Arbitrary values whose change recreates the sleep (and waits again).
    #[serde(default)]
    pub triggers: BTreeMap<String, Input<String>>,
}

impl ResourceArgs for Sleep {
    const TYPE: &'static str = "time:index/Sleep";
}

fn duration(field: &str, v: &Option<String>) -> Result<Duration, ProviderError> {
    let Some(s) = v else {
        return Ok(Duration::ZERO);
    };
    let d = humantime::parse_duration(s)
        .map_err(|e| ProviderError::invalid(field, format!("{s:?}"), e.to_string()))?;
    if d > MAX_SLEEP {
        return Err(ProviderError::invalid(
            field,
            format!("{s:?}"),
            "must be at most 1h",
        ));
    }
    Ok(d)
}

impl Sleep {
    fn durations(&self) -> Result<(Duration, Duration), ProviderError> {
        Ok((
            duration("create_duration", &self.create_duration)?,
            duration("destroy_duration", &self.destroy_duration)?,
        ))
    }
}

pub struct SleepProvider;

#[async_trait]
impl Provider for SleepProvider {
    fn type_name(&self) -> &'static str {
        Sleep::TYPE
    }

    fn schema(&self) -> Option<TypeSchema> {
        Some(TypeSchema::of::<Sleep>(
            false,
            Schema {
                terraform: &[Tf {
                    resource: "time_sleep",
                    args: &[
                        ("create_duration", "create_duration"),
                        ("destroy_duration", "destroy_duration"),
                        ("triggers", "triggers"),
                    ],
                    import_id: "{create_duration?},{destroy_duration?}",
                }],
                ..Schema::NONE
            },
        ))
    }

    /// Durations update in place (no wait), as in Terraform.
    fn force_new(&self) -> &'static [&'static str] {
        &["triggers"]
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        parse::<Sleep>(inputs)?.durations().map(|_| ())
    }

    async fn create(&self, _ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let (wait, _) = parse::<Sleep>(inputs)?.durations()?;
        tokio::time::sleep(wait).await;
        let id = humantime::format_rfc3339_seconds(SystemTime::now()).to_string();
        Ok(Created {
            outputs: json!({ "id": id }),
            id,
        })
    }

    async fn read(
        &self,
        _ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        Ok(Some(ReadResult {
            inputs: inputs.clone(),
            outputs: outputs.clone(),
        }))
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _old_inputs: &Value,
        new_inputs: &Value,
        old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        parse::<Sleep>(new_inputs)?.durations()?;
        Ok(old_outputs.clone())
    }

    async fn delete(
        &self,
        _ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        let (_, wait) = parse::<Sleep>(inputs)?.durations()?;
        tokio::time::sleep(wait).await;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Urn;
    use crate::value;
    use tokio::time::Instant;

    fn ctx() -> Ctx {
        Ctx::new("dev", Urn::new("dev", "", Sleep::TYPE, "wait"))
    }

    #[test]
    fn validation_names_field_and_value() {
        let p = SleepProvider;
        let e = p.validate(&json!({"create_duration": "soon"})).unwrap_err();
        match e {
            ProviderError::InvalidInput { field, value, .. } => {
                assert_eq!(field, "create_duration");
                assert_eq!(value, "\"soon\"");
            }
            other => panic!("{other:?}"),
        }
        let e = p.validate(&json!({"destroy_duration": "2h"})).unwrap_err();
        assert!(
            matches!(e, ProviderError::InvalidInput { ref field, .. } if field == "destroy_duration"),
            "{e}"
        );
        p.validate(&json!({"create_duration": "1h"})).unwrap();
        p.validate(&json!({"triggers": {"a": value::unknown()}}))
            .unwrap();
        p.validate(&json!({})).unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn create_and_delete_wait_their_durations() {
        let p = SleepProvider;
        let inputs = json!({"create_duration": "30s", "destroy_duration": "2m"});
        let t0 = Instant::now();
        let c = p.create(&ctx(), &inputs).await.unwrap();
        let waited = t0.elapsed();
        assert!(
            waited >= Duration::from_secs(30) && waited < Duration::from_secs(31),
            "{waited:?}"
        );
        humantime::parse_rfc3339(&c.id).expect("id is RFC 3339");
        assert_eq!(c.outputs["id"], json!(c.id));

        let r = p
            .read(&ctx(), &c.id, &inputs, &c.outputs)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.outputs, c.outputs);

        // An in-place duration change does not wait.
        let t1 = Instant::now();
        let new = json!({"create_duration": "45s", "destroy_duration": "2m"});
        let u = p
            .update(&ctx(), &c.id, &inputs, &new, &c.outputs)
            .await
            .unwrap();
        assert_eq!(u, c.outputs);
        assert!(t1.elapsed() < Duration::from_secs(1));
        assert!(p.diff(&inputs, &new).replace.is_empty());
        assert_eq!(
            p.diff(&inputs, &json!({"triggers": {"x": "1"}})).replace,
            vec!["triggers"]
        );

        let t2 = Instant::now();
        p.delete(&ctx(), &c.id, &new, &c.outputs).await.unwrap();
        let waited = t2.elapsed();
        assert!(
            waited >= Duration::from_secs(120) && waited < Duration::from_secs(121),
            "{waited:?}"
        );
    }
}
