//! Typed IAM policy documents: statements whose resources and principals may
//! be other resources' outputs (a secret's ARN, a role's ARN). The document
//! becomes JSON text once every reference is known ([`PolicyDocument::to_input`]),
//! so a preview shows it as known after apply and the plan stays pure.

use serde_json::{json, Map, Value};

use crate::model::Input;

/// `Allow` or `Deny`, the statement's effect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    Allow,
    Deny,
}

/// One statement. `principals` is for resource policies (bucket, repository,
/// trust policies): `("AWS", [role ARN])`, `("Service", ["ecs-tasks.amazonaws.com"])`.
#[derive(Debug, Clone, PartialEq)]
pub struct Statement {
    pub sid: Option<String>,
    pub effect: Effect,
    pub actions: Vec<String>,
    pub resources: Vec<Input<String>>,
    pub principals: Vec<(String, Vec<Input<String>>)>,
    /// `(operator, key, values)`: `("StringEquals", "aws:SourceAccount", [..])`.
    pub conditions: Vec<(String, String, Vec<Input<String>>)>,
}

impl Statement {
    pub fn allow(actions: &[&str], resources: Vec<Input<String>>) -> Self {
        Statement {
            sid: None,
            effect: Effect::Allow,
            actions: actions.iter().map(|a| a.to_string()).collect(),
            resources,
            principals: Vec::new(),
            conditions: Vec::new(),
        }
    }

    pub fn sid(mut self, sid: &str) -> Self {
        self.sid = Some(sid.into());
        self
    }

    pub fn principal(mut self, kind: &str, ids: Vec<Input<String>>) -> Self {
        self.principals.push((kind.into(), ids));
        self
    }

    pub fn condition(mut self, op: &str, key: &str, values: Vec<Input<String>>) -> Self {
        self.conditions.push((op.into(), key.into(), values));
        self
    }
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct PolicyDocument {
    pub statements: Vec<Statement>,
}

impl PolicyDocument {
    pub fn new(statements: Vec<Statement>) -> Self {
        PolicyDocument { statements }
    }

    /// The document as JSON text: a plain value when every part is known,
    /// otherwise a template the references fill in once known.
    pub fn to_input(&self) -> Input<String> {
        let mut vars: Vec<(String, Input<String>)> = Vec::new();
        // Known values go in as they are; references become `{ref:N}`
        // placeholders (a string no ARN or principal contains).
        let mut slot = |i: &Input<String>| -> Value {
            match i {
                Input::Value(v) => json!(v),
                other => {
                    let key = format!("ref:{}", vars.len());
                    vars.push((key.clone(), other.clone()));
                    json!(format!("{{{key}}}"))
                }
            }
        };
        let mut list = |items: &[Input<String>]| -> Value {
            let mut v: Vec<Value> = items.iter().map(&mut slot).collect();
            // One item is written as a string, as AWS returns it.
            if v.len() == 1 {
                v.pop().expect("one")
            } else {
                Value::Array(v)
            }
        };
        let statements: Vec<Value> = self
            .statements
            .iter()
            .map(|s| {
                let mut m = Map::new();
                if let Some(sid) = &s.sid {
                    m.insert("Sid".into(), json!(sid));
                }
                m.insert(
                    "Effect".into(),
                    json!(match s.effect {
                        Effect::Allow => "Allow",
                        Effect::Deny => "Deny",
                    }),
                );
                if !s.principals.is_empty() {
                    let p: Map<String, Value> = s
                        .principals
                        .iter()
                        .map(|(k, ids)| (k.clone(), list(ids)))
                        .collect();
                    m.insert("Principal".into(), Value::Object(p));
                }
                let actions: Vec<Value> = s.actions.iter().map(|a| json!(a)).collect();
                m.insert(
                    "Action".into(),
                    if actions.len() == 1 {
                        actions[0].clone()
                    } else {
                        Value::Array(actions)
                    },
                );
                if !s.resources.is_empty() {
                    m.insert("Resource".into(), list(&s.resources));
                }
                if !s.conditions.is_empty() {
                    let mut c: Map<String, Value> = Map::new();
                    for (op, key, values) in &s.conditions {
                        let entry = c.entry(op.clone()).or_insert_with(|| json!({}));
                        entry[key] = list(values);
                    }
                    m.insert("Condition".into(), Value::Object(c));
                }
                Value::Object(m)
            })
            .collect();
        let text = json!({"Version": "2012-10-17", "Statement": statements}).to_string();
        let vars: Vec<(&str, Input<String>)> =
            vars.iter().map(|(k, v)| (k.as_str(), v.clone())).collect();
        Input::interpolate(&text, &vars)
    }
}

impl From<PolicyDocument> for Input<String> {
    fn from(d: PolicyDocument) -> Self {
        d.to_input()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Urn;

    #[test]
    fn known_documents_are_plain_json() {
        let d = PolicyDocument::new(vec![Statement::allow(
            &["secretsmanager:GetSecretValue"],
            vec!["arn:aws:secretsmanager:us-east-1:1:secret:a".into()],
        )]);
        let Input::Value(text) = d.to_input() else {
            panic!("known");
        };
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({"Version": "2012-10-17", "Statement": [{
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "arn:aws:secretsmanager:us-east-1:1:secret:a",
            }]})
        );
    }

    #[test]
    fn references_wait_and_fill_in() {
        let urn = Urn::new("s", "", "aws:secretsmanager/Secret", "jwt");
        let r = Input::Ref {
            urn: urn.clone(),
            attr: "arn".into(),
        };
        let d = PolicyDocument::new(vec![Statement::allow(
            &["secretsmanager:GetSecretValue", "kms:Decrypt"],
            vec![r, "arn:aws:kms:us-east-1:1:key/k".into()],
        )
        .principal("Service", vec!["ecs-tasks.amazonaws.com".into()])
        .condition("StringEquals", "aws:SourceAccount", vec!["1".into()])]);
        let input = d.to_input();
        assert!(input.known().is_none(), "unknown until the ARN is");
        let Input::Concat(parts) = &input else {
            panic!("{input:?}");
        };
        let filled: String = parts
            .iter()
            .map(|p| match p {
                Input::Value(v) => v.clone(),
                _ => "arn:aws:secretsmanager:us-east-1:1:secret:jwt-AbC".to_string(),
            })
            .collect();
        let v: Value = serde_json::from_str(&filled).unwrap();
        assert_eq!(
            v["Statement"][0]["Resource"],
            json!([
                "arn:aws:secretsmanager:us-east-1:1:secret:jwt-AbC",
                "arn:aws:kms:us-east-1:1:key/k"
            ])
        );
        assert_eq!(
            v["Statement"][0]["Principal"],
            json!({"Service": "ecs-tasks.amazonaws.com"})
        );
        assert_eq!(
            v["Statement"][0]["Condition"],
            json!({"StringEquals": {"aws:SourceAccount": "1"}})
        );
    }
}
