//! `aws:ssm/getParameter` (Terraform `data "aws_ssm_parameter"`): one
//! parameter's value, such as the AMI id AWS and Canonical publish per
//! region under `/aws/service/...`. A `SecureString` value is a secret.

use async_trait::async_trait;
use aws_sdk_ssm::types::ParameterType;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::Ssm;
use crate::model::{Output, Resource, ResourceArgs};
use crate::provider::aws::call::Call;
use crate::provider::aws::lookup::AwsLookup;
use crate::provider::schema::Tf;
use crate::provider::ProviderError;
use crate::value;

/// Ubuntu 24.04 LTS on amd64 with a gp3 root volume, as Canonical publishes
/// it in every region.
pub const UBUNTU_2404_AMD64: &str =
    "/aws/service/canonical/ubuntu/server/24.04/stable/current/amd64/hvm/ebs-gp3/ami-id";

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GetParameter {
    /// The parameter name (`/a/b` or `a`), or its ARN.
    pub name: String,
    /// Decrypt a `SecureString` (its value is then a secret).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub with_decryption: bool,
}

impl GetParameter {
    pub fn new(name: &str) -> Self {
        GetParameter {
            name: name.into(),
            with_decryption: false,
        }
    }
}

impl ResourceArgs for GetParameter {
    const TYPE: &'static str = "aws:ssm/getParameter";
}

impl Resource<GetParameter> {
    /// The value (an AMI id, for the public AMI parameters).
    pub fn value(&self) -> Output<String> {
        self.output("value")
    }
    pub fn version(&self) -> Output<i64> {
        self.output("version")
    }
}

/// Names as SSM takes them: up to 2048 characters of a-z, A-Z, 0-9 and
/// `_.-/`, or an ARN.
fn check_name(name: &str) -> Result<(), ProviderError> {
    let plain = !name.is_empty()
        && name.len() <= 2048
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_.-/".contains(c));
    if plain || name.starts_with("arn:") {
        Ok(())
    } else {
        Err(ProviderError::invalid(
            "name",
            format!("{name:?}"),
            "expected an SSM parameter name (a-z, A-Z, 0-9, `_.-/`, at most 2048) or ARN",
        ))
    }
}

#[async_trait]
impl AwsLookup for GetParameter {
    type Service = Ssm;
    const TERRAFORM: &'static [Tf] = &[Tf {
        resource: "aws_ssm_parameter",
        args: &[("name", "name"), ("with_decryption", "with_decryption")],
        import_id: "",
    }];

    fn check(&self) -> Result<(), ProviderError> {
        check_name(&self.name)
    }

    async fn read(&self, cx: &Call<'_, Ssm>) -> Result<(String, Value), ProviderError> {
        let out = cx
            .try_send("GetParameter", |c| {
                c.get_parameter()
                    .name(&self.name)
                    .with_decryption(self.with_decryption)
                    .send()
            })
            .await;
        let out = match out {
            Ok(o) => o,
            Err(f) if f.code == "ParameterNotFound" => {
                return Err(ProviderError::invalid(
                    "name",
                    format!("{:?}", self.name),
                    "no such SSM parameter in this region",
                ))
            }
            Err(f) => return Err(f.error),
        };
        let p = out.parameter().ok_or_else(|| {
            ProviderError::Fatal(format!("GetParameter {} answered no parameter", self.name))
        })?;
        let raw = p.value().unwrap_or_default().to_string();
        let secure = p.r#type() == Some(&ParameterType::SecureString);
        let shown = if secure {
            value::secret(Value::String(raw))
        } else {
            Value::String(raw)
        };
        Ok((
            p.name().unwrap_or(&self.name).to_string(),
            json!({
                "value": shown,
                "type": p.r#type().map(|t| t.as_str()),
                "version": p.version(),
                "arn": p.arn(),
            }),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked_before_any_call() {
        assert!(check_name(UBUNTU_2404_AMD64).is_ok());
        assert!(check_name("arn:aws:ssm:eu-west-1:123456789012:parameter/x").is_ok());
        let e = check_name("/bad name").unwrap_err().to_string();
        assert!(e.contains("name") && e.contains("/bad name"), "{e}");
        assert!(check_name("").is_err());
    }
}
