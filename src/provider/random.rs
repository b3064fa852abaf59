//! `random:` resources, modelled on Terraform's random provider. Values are
//! generated once at create and kept in state: `read` returns what is stored
//! because there is no external system to ask. Every input forces a new value.

use std::collections::BTreeMap;

use async_trait::async_trait;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use rand::{Rng, RngCore};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::schema::{Schema, Tf};
use super::{parse, Created, Ctx, Provider, ProviderError, ReadResult, TypeSchema};
use crate::model::{Input, Output, Resource, ResourceArgs};

const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const NUMERIC: &str = "0123456789";
/// Terraform's default special set.
pub const DEFAULT_SPECIAL: &str = "!@#$%&*()-_=+[]{}<>:?";

fn yes() -> bool {
    true
}

/// A random password (`random_password`). The result is a secret output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomPassword {
    pub length: u32,
    #[serde(default = "yes")]
    pub special: bool,
    #[serde(default = "yes")]
    pub upper: bool,
    #[serde(default = "yes")]
    pub lower: bool,
    #[serde(default = "yes")]
    pub numeric: bool,
    /// Replaces the default special characters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub override_special: Option<String>,
    #[serde(default)]
    pub min_upper: u32,
    #[serde(default)]
    pub min_lower: u32,
    #[serde(default)]
    pub min_numeric: u32,
    #[serde(default)]
    pub min_special: u32,
    /// Arbitrary values whose change regenerates the password.
    #[serde(default)]
    pub keepers: BTreeMap<String, Input<String>>,
}

impl RandomPassword {
    /// All character classes on, no minimums, no keepers.
    pub fn new(length: u32) -> Self {
        RandomPassword {
            length,
            special: true,
            upper: true,
            lower: true,
            numeric: true,
            override_special: None,
            min_upper: 0,
            min_lower: 0,
            min_numeric: 0,
            min_special: 0,
            keepers: BTreeMap::new(),
        }
    }

    /// The character classes in use, each with its minimum count.
    fn classes(&self) -> Vec<(&'static str, Vec<char>, u32)> {
        let special = self.override_special.as_deref().unwrap_or(DEFAULT_SPECIAL);
        let mut out = Vec::new();
        for (on, name, set, min) in [
            (self.upper, "upper", UPPER, self.min_upper),
            (self.lower, "lower", LOWER, self.min_lower),
            (self.numeric, "numeric", NUMERIC, self.min_numeric),
            (self.special, "special", special, self.min_special),
        ] {
            if on {
                let mut chars: Vec<char> = set.chars().collect();
                chars.sort_unstable();
                chars.dedup();
                out.push((name, chars, min));
            }
        }
        out
    }

    fn check(&self) -> Result<(), ProviderError> {
        if !(4..=1024).contains(&self.length) {
            return Err(ProviderError::invalid(
                "length",
                self.length,
                "must be between 4 and 1024",
            ));
        }
        for (field, on, min) in [
            ("min_upper", self.upper, self.min_upper),
            ("min_lower", self.lower, self.min_lower),
            ("min_numeric", self.numeric, self.min_numeric),
            ("min_special", self.special, self.min_special),
        ] {
            if !on && min > 0 {
                return Err(ProviderError::invalid(
                    field,
                    min,
                    "requires its character class to be enabled",
                ));
            }
        }
        if let Some(o) = &self.override_special {
            if o.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(ProviderError::invalid(
                    "override_special",
                    format!("{o:?}"),
                    "must not contain whitespace or control characters",
                ));
            }
            if self.special && o.is_empty() && self.min_special > 0 {
                return Err(ProviderError::invalid(
                    "override_special",
                    "\"\"",
                    "is empty but min_special > 0",
                ));
            }
        }
        let classes = self.classes();
        if classes.iter().all(|(_, set, _)| set.is_empty()) {
            return Err(ProviderError::invalid(
                "special",
                self.special,
                "at least one of upper, lower, numeric, special must be enabled",
            ));
        }
        let sum: u64 = [
            self.min_upper,
            self.min_lower,
            self.min_numeric,
            self.min_special,
        ]
        .iter()
        .map(|&n| u64::from(n))
        .sum();
        if sum > u64::from(self.length) {
            return Err(ProviderError::invalid(
                "length",
                self.length,
                format!("is less than the sum of the min_* counts ({sum})"),
            ));
        }
        Ok(())
    }

    /// Minimums first, the rest from the union, then a shuffle so the forced
    /// characters are not at predictable positions.
    fn generate(&self, rng: &mut impl Rng) -> String {
        let classes = self.classes();
        let mut out: Vec<char> = Vec::with_capacity(self.length as usize);
        for (_, set, min) in &classes {
            for _ in 0..*min {
                out.push(*set.choose(rng).expect("checked non-empty"));
            }
        }
        let all: Vec<char> = classes
            .iter()
            .flat_map(|(_, s, _)| s.iter().copied())
            .collect();
        while out.len() < self.length as usize {
            out.push(*all.choose(rng).expect("checked non-empty"));
        }
        out.shuffle(rng);
        out.into_iter().collect()
    }
}

impl ResourceArgs for RandomPassword {
    const TYPE: &'static str = "random:index/RandomPassword";
}

impl Resource<RandomPassword> {
    /// The generated password (secret).
    pub fn result(&self) -> Output<String> {
        self.output("result")
    }
}

const PASSWORD_FIELDS: &[&str] = &[
    "length",
    "special",
    "upper",
    "lower",
    "numeric",
    "override_special",
    "min_upper",
    "min_lower",
    "min_numeric",
    "min_special",
    "keepers",
];

pub struct RandomPasswordProvider;

#[async_trait]
impl Provider for RandomPasswordProvider {
    fn type_name(&self) -> &'static str {
        RandomPassword::TYPE
    }

    // No import id: random_password imports by its value, a secret.
    fn schema(&self) -> Option<TypeSchema> {
        Some(TypeSchema::of::<RandomPassword>(
            false,
            Schema {
                terraform: &[Tf {
                    resource: "random_password",
                    args: &[
                        ("length", "length"),
                        ("special", "special"),
                        ("upper", "upper"),
                        ("lower", "lower"),
                        ("numeric", "numeric"),
                        ("override_special", "override_special"),
                        ("min_upper", "min_upper"),
                        ("min_lower", "min_lower"),
                        ("min_numeric", "min_numeric"),
                        ("min_special", "min_special"),
                        ("keepers", "keepers"),
                    ],
                    import_id: "",
                }],
                ..Schema::NONE
            },
        ))
    }

    fn force_new(&self) -> &'static [&'static str] {
        PASSWORD_FIELDS
    }

    fn secret_outputs(&self) -> &'static [&'static str] {
        &["result"]
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        parse::<RandomPassword>(inputs)?.check()
    }

    async fn create(&self, _ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let args: RandomPassword = parse(inputs)?;
        args.check()?;
        let result = args.generate(&mut OsRng);
        Ok(Created {
            id: "none".into(),
            outputs: json!({ "id": "none", "result": result }),
        })
    }

    async fn read(
        &self,
        _ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        Ok(Some(stored(inputs, outputs)))
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _old_inputs: &Value,
        _new_inputs: &Value,
        old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        Ok(old_outputs.clone())
    }

    async fn delete(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

fn stored(inputs: &Value, outputs: &Value) -> ReadResult {
    ReadResult {
        inputs: inputs.clone(),
        outputs: outputs.clone(),
    }
}

/// Random bytes rendered several ways (`random_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RandomId {
    pub byte_length: u32,
    /// Prepended to every rendering (not to the raw bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(default)]
    pub keepers: BTreeMap<String, Input<String>>,
}

impl RandomId {
    pub fn new(byte_length: u32) -> Self {
        RandomId {
            byte_length,
            prefix: None,
            keepers: BTreeMap::new(),
        }
    }

    fn check(&self) -> Result<(), ProviderError> {
        if !(1..=64).contains(&self.byte_length) {
            return Err(ProviderError::invalid(
                "byte_length",
                self.byte_length,
                "must be between 1 and 64",
            ));
        }
        Ok(())
    }

    fn render(&self, bytes: &[u8]) -> Value {
        let p = self.prefix.as_deref().unwrap_or("");
        let b64_url = format!("{p}{}", URL_SAFE_NO_PAD.encode(bytes));
        json!({
            "id": b64_url,
            "hex": format!("{p}{}", hex::encode(bytes)),
            "b64_url": b64_url,
            "b64_std": format!("{p}{}", STANDARD.encode(bytes)),
            "dec": format!("{p}{}", big_endian_decimal(bytes)),
        })
    }
}

impl ResourceArgs for RandomId {
    const TYPE: &'static str = "random:index/RandomId";
}

impl Resource<RandomId> {
    pub fn hex(&self) -> Output<String> {
        self.output("hex")
    }
    pub fn b64_url(&self) -> Output<String> {
        self.output("b64_url")
    }
    pub fn b64_std(&self) -> Output<String> {
        self.output("b64_std")
    }
    pub fn dec(&self) -> Output<String> {
        self.output("dec")
    }
}

/// Decimal digits of a big-endian unsigned integer of any width (up to 64
/// bytes here, beyond u128), by repeated division.
fn big_endian_decimal(bytes: &[u8]) -> String {
    let mut num: Vec<u8> = bytes.to_vec();
    let mut digits = Vec::new();
    while num.iter().any(|&b| b != 0) {
        let mut rem: u32 = 0;
        for b in num.iter_mut() {
            let cur = (rem << 8) | u32::from(*b);
            *b = (cur / 10) as u8;
            rem = cur % 10;
        }
        digits.push(b'0' + rem as u8);
    }
    if digits.is_empty() {
        return "0".into();
    }
    digits.reverse();
    String::from_utf8(digits).expect("ascii digits")
}

pub struct RandomIdProvider;

#[async_trait]
impl Provider for RandomIdProvider {
    fn type_name(&self) -> &'static str {
        RandomId::TYPE
    }

    fn schema(&self) -> Option<TypeSchema> {
        Some(TypeSchema::of::<RandomId>(
            false,
            Schema {
                terraform: &[Tf {
                    resource: "random_id",
                    args: &[
                        ("byte_length", "byte_length"),
                        ("prefix", "prefix"),
                        ("keepers", "keepers"),
                    ],
                    // `terraform import random_id.x <b64_url>` (the id).
                    import_id: "{id}",
                }],
                ..Schema::NONE
            },
        ))
    }

    fn force_new(&self) -> &'static [&'static str] {
        &["byte_length", "prefix", "keepers"]
    }

    fn validate(&self, inputs: &Value) -> Result<(), ProviderError> {
        parse::<RandomId>(inputs)?.check()
    }

    async fn create(&self, _ctx: &Ctx, inputs: &Value) -> Result<Created, ProviderError> {
        let args: RandomId = parse(inputs)?;
        args.check()?;
        let mut bytes = vec![0u8; args.byte_length as usize];
        OsRng.fill_bytes(&mut bytes);
        let outputs = args.render(&bytes);
        Ok(Created {
            id: outputs["b64_url"].as_str().unwrap_or_default().to_string(),
            outputs,
        })
    }

    async fn read(
        &self,
        _ctx: &Ctx,
        _id: &str,
        inputs: &Value,
        outputs: &Value,
    ) -> Result<Option<ReadResult>, ProviderError> {
        Ok(Some(stored(inputs, outputs)))
    }

    async fn update(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _old_inputs: &Value,
        _new_inputs: &Value,
        old_outputs: &Value,
    ) -> Result<Value, ProviderError> {
        Ok(old_outputs.clone())
    }

    async fn delete(
        &self,
        _ctx: &Ctx,
        _id: &str,
        _inputs: &Value,
        _outputs: &Value,
    ) -> Result<(), ProviderError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Urn;
    use crate::value;

    fn ctx(name: &str) -> Ctx {
        Ctx::new("dev", Urn::new("dev", "", RandomPassword::TYPE, name))
    }

    fn invalid_field(e: ProviderError) -> (String, String) {
        match e {
            ProviderError::InvalidInput { field, value, .. } => (field, value),
            other => panic!("expected InvalidInput, got {other:?}"),
        }
    }

    #[test]
    fn password_validation_names_field_and_value() {
        let p = RandomPasswordProvider;
        let e = p.validate(&json!({"length": 3})).unwrap_err();
        assert_eq!(invalid_field(e), ("length".into(), "3".into()));
        let e = p.validate(&json!({"length": 2000})).unwrap_err();
        assert_eq!(invalid_field(e), ("length".into(), "2000".into()));
        let e = p
            .validate(&json!({"length": 8, "min_upper": 5, "min_numeric": 5}))
            .unwrap_err();
        assert_eq!(invalid_field(e), ("length".into(), "8".into()));
        let e = p
            .validate(&json!({"length": 8, "numeric": false, "min_numeric": 1}))
            .unwrap_err();
        assert_eq!(invalid_field(e), ("min_numeric".into(), "1".into()));
        let e = p
            .validate(&json!({"length": 8, "upper": false, "lower": false, "numeric": false, "special": false}))
            .unwrap_err();
        assert_eq!(invalid_field(e).0, "special");
        let e = p.validate(&json!({"length": 8, "bogus": 1})).unwrap_err();
        assert_eq!(invalid_field(e).0, "bogus");
        let e = p.validate(&json!({"length": "eight"})).unwrap_err();
        assert!(
            e.to_string().contains("length") || e.to_string().contains("eight"),
            "{e}"
        );
    }

    #[test]
    fn password_validation_accepts_unknown_keepers() {
        let p = RandomPasswordProvider;
        let inputs = json!({"length": 16, "keepers": {"k": value::unknown(), "s": value::secret(json!("x"))}});
        p.validate(&inputs).unwrap();
    }

    #[test]
    fn generated_password_honours_length_minimums_and_charset() {
        let args = RandomPassword {
            min_upper: 3,
            min_lower: 2,
            min_numeric: 4,
            min_special: 5,
            override_special: Some("#!".into()),
            ..RandomPassword::new(14)
        };
        args.check().unwrap();
        for _ in 0..200 {
            let pw = args.generate(&mut rand::thread_rng());
            assert_eq!(pw.chars().count(), 14);
            assert!(
                pw.chars().filter(char::is_ascii_uppercase).count() >= 3,
                "{pw}"
            );
            assert!(
                pw.chars().filter(char::is_ascii_lowercase).count() >= 2,
                "{pw}"
            );
            assert!(pw.chars().filter(char::is_ascii_digit).count() >= 4, "{pw}");
            assert!(
                pw.chars().filter(|c| "#!".contains(*c)).count() >= 5,
                "{pw}"
            );
            assert!(
                pw.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "#!".contains(c)),
                "{pw}"
            );
        }
        let digits_only = RandomPassword {
            upper: false,
            lower: false,
            special: false,
            ..RandomPassword::new(32)
        };
        let pw = digits_only.generate(&mut rand::thread_rng());
        assert!(pw.chars().all(|c| c.is_ascii_digit()), "{pw}");
    }

    #[tokio::test]
    async fn password_create_is_secret_stable_and_all_force_new() {
        let p = RandomPasswordProvider;
        assert!(p.secret_outputs().contains(&"result"));
        let inputs = serde_json::to_value(RandomPassword::new(20)).unwrap();
        p.validate(&inputs).unwrap();
        let c = p.create(&ctx("pw"), &inputs).await.unwrap();
        assert_eq!(c.id, "none");
        let pw = c.outputs["result"].as_str().unwrap().to_string();
        assert_eq!(pw.len(), 20);
        let c2 = p.create(&ctx("pw2"), &inputs).await.unwrap();
        assert_ne!(c2.outputs["result"], c.outputs["result"], "CSPRNG repeats");
        // read and update are no-ops on stored values.
        let r = p
            .read(&ctx("pw"), "none", &inputs, &c.outputs)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.outputs, c.outputs);
        assert_eq!(r.inputs, inputs);
        let u = p
            .update(&ctx("pw"), "none", &inputs, &inputs, &c.outputs)
            .await
            .unwrap();
        assert_eq!(u, c.outputs);
        // Any change (here a keeper) replaces.
        let mut rotated = RandomPassword::new(20);
        rotated.keepers.insert("rotate".into(), "1".into());
        let d = p.diff(&inputs, &serde_json::to_value(rotated).unwrap());
        assert_eq!(d.replace, vec!["keepers"]);
        let d = p.diff(
            &inputs,
            &serde_json::to_value(RandomPassword::new(21)).unwrap(),
        );
        assert_eq!(d.replace, vec!["length"]);
    }

    #[test]
    fn decimal_rendering_of_wide_integers() {
        assert_eq!(big_endian_decimal(&[0]), "0");
        assert_eq!(big_endian_decimal(&[1, 0]), "256");
        assert_eq!(big_endian_decimal(&[0xff; 8]), u64::MAX.to_string());
        assert_eq!(big_endian_decimal(&[0xff; 16]), u128::MAX.to_string());
        // 2^136 = 256^17
        let mut b = vec![1u8];
        b.extend([0u8; 17]);
        assert_eq!(
            big_endian_decimal(&b),
            "87112285931760246646623899502532662132736"
        );
    }

    #[tokio::test]
    async fn random_id_renders_consistently() {
        let p = RandomIdProvider;
        let e = p.validate(&json!({"byte_length": 0})).unwrap_err();
        assert_eq!(invalid_field(e), ("byte_length".into(), "0".into()));
        let e = p.validate(&json!({"byte_length": 65})).unwrap_err();
        assert_eq!(invalid_field(e), ("byte_length".into(), "65".into()));
        assert!(p.secret_outputs().is_empty());

        let inputs = serde_json::to_value(RandomId {
            prefix: Some("app-".into()),
            ..RandomId::new(8)
        })
        .unwrap();
        let c = p.create(&ctx("id"), &inputs).await.unwrap();
        let o = &c.outputs;
        let hex_s = o["hex"].as_str().unwrap().strip_prefix("app-").unwrap();
        let bytes = hex::decode(hex_s).unwrap();
        assert_eq!(bytes.len(), 8);
        assert_eq!(
            o["b64_url"],
            json!(format!("app-{}", URL_SAFE_NO_PAD.encode(&bytes)))
        );
        assert_eq!(
            o["b64_std"],
            json!(format!("app-{}", STANDARD.encode(&bytes)))
        );
        let n = u64::from_be_bytes(bytes.try_into().unwrap());
        assert_eq!(o["dec"], json!(format!("app-{n}")));
        assert_eq!(o["id"], o["b64_url"]);
        assert_eq!(json!(c.id), o["b64_url"]);
        let r = p
            .read(&ctx("id"), &c.id, &inputs, o)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(&r.outputs, o);
        let plain = serde_json::to_value(RandomId::new(8)).unwrap();
        assert_eq!(p.diff(&inputs, &plain).replace, vec!["prefix"]);
    }

    #[test]
    fn builtin_registry_has_all_builtin_types() {
        let r = crate::provider::Registry::builtin();
        assert!(r.get(RandomPassword::TYPE).is_some());
        assert!(r.get(RandomId::TYPE).is_some());
        assert!(r.get(crate::provider::local::File::TYPE).is_some());
        assert!(r.get(crate::provider::time::Sleep::TYPE).is_some());
        assert!(r.get("test:index/Thing").is_none());
    }
}
