//! The resource model: stacks, components, resources, typed inputs and outputs.
//! Declaring a stack is pure data building; nothing here does IO.

use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;

use crate::value;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ModelError {
    #[error("duplicate URN {0}: every resource needs a unique (component, type, name)")]
    DuplicateUrn(String),
    #[error("invalid name {name:?} for {what}: {reason}")]
    InvalidName {
        what: &'static str,
        name: String,
        reason: &'static str,
    },
    #[error("{urn}: inputs of type {type_name} do not serialize to a JSON object: {reason}")]
    BadInputs {
        urn: String,
        type_name: String,
        reason: String,
    },
    #[error("{urn}: depends_on names {target}, which is not declared in this stack")]
    UnknownDependency { urn: String, target: String },
    #[error("{urn}: references {target}, which is not declared in this stack")]
    UnknownReference { urn: String, target: String },
    #[error("invalid URN {0:?}: expected stack::component-path::type::name")]
    BadUrn(String),
    /// An input read at apply time that is still a reference or unknown:
    /// the engine resolves every input before it calls a provider.
    #[error("{0} is not known at apply time")]
    NotKnown(String),
}

/// `stack::component-path::type::name`. The component path is the chain of
/// component names joined by `/`, empty at the stack root.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Urn(String);

impl Urn {
    pub fn new(stack: &str, path: &str, type_name: &str, name: &str) -> Urn {
        Urn(format!("{stack}::{path}::{type_name}::{name}"))
    }

    pub fn parse(s: &str) -> Result<Urn, ModelError> {
        let parts: Vec<&str> = s.split("::").collect();
        if parts.len() != 4 || parts[0].is_empty() || parts[2].is_empty() || parts[3].is_empty() {
            return Err(ModelError::BadUrn(s.to_string()));
        }
        Ok(Urn(s.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn part(&self, i: usize) -> &str {
        self.0.split("::").nth(i).unwrap_or("")
    }

    pub fn stack(&self) -> &str {
        self.part(0)
    }
    pub fn component_path(&self) -> &str {
        self.part(1)
    }
    pub fn type_name(&self) -> &str {
        self.part(2)
    }
    pub fn name(&self) -> &str {
        self.part(3)
    }
}

impl fmt::Display for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Urn({})", self.0)
    }
}

/// A typed reference to another resource's output attribute.
pub struct Output<T> {
    urn: Urn,
    attr: String,
    _t: PhantomData<fn() -> T>,
}

impl<T> Clone for Output<T> {
    fn clone(&self) -> Self {
        Output {
            urn: self.urn.clone(),
            attr: self.attr.clone(),
            _t: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Output<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Output({}.{})", self.urn, self.attr)
    }
}

impl<T> Output<T> {
    pub fn urn(&self) -> &Urn {
        &self.urn
    }
    pub fn attr(&self) -> &str {
        &self.attr
    }
}

/// An input field: a plain value, a secret, a reference to another resource's
/// output, a string joined from text and references ([`Input::interpolate`]),
/// or (in previews only) a value not known until apply.
#[derive(Clone, Debug, PartialEq)]
pub enum Input<T> {
    Value(T),
    Secret(T),
    Ref {
        urn: Urn,
        attr: String,
    },
    /// Parts joined into one string once all are known (string inputs only).
    Concat(Vec<Input<String>>),
    Unknown,
}

impl Input<String> {
    /// `template` with every `{name}` of `vars` replaced by its value, once
    /// the references among them are known: an ARN or a policy naming an
    /// account id that a lookup returns. Other braces are kept as they are.
    pub fn interpolate(template: &str, vars: &[(&str, Input<String>)]) -> Input<String> {
        let mut parts: Vec<Input<String>> = Vec::new();
        let mut rest = template;
        loop {
            let next = vars
                .iter()
                .filter_map(|(k, v)| rest.find(&format!("{{{k}}}")).map(|i| (i, k, v)))
                .min_by_key(|(i, _, _)| *i);
            let Some((i, k, v)) = next else {
                break;
            };
            if i > 0 {
                parts.push(Input::Value(rest[..i].to_string()));
            }
            parts.push(v.clone());
            rest = &rest[i + k.len() + 2..];
        }
        if !rest.is_empty() {
            parts.push(Input::Value(rest.to_string()));
        }
        match parts.as_slice() {
            [] => Input::Value(String::new()),
            [Input::Value(_)] => parts.pop().expect("one part"),
            _ => Input::Concat(parts),
        }
    }
}

impl<T> Input<T> {
    pub fn secret(v: impl Into<T>) -> Self {
        Input::Secret(v.into())
    }

    /// The concrete value, if known (providers call this; at apply time every
    /// input is known).
    pub fn known(&self) -> Option<&T> {
        match self {
            Input::Value(v) | Input::Secret(v) => Some(v),
            _ => None,
        }
    }

    pub fn is_secret(&self) -> bool {
        matches!(self, Input::Secret(_))
    }

    /// The concrete value of input `field` at apply time.
    pub fn require(&self, field: &str) -> Result<&T, ModelError> {
        self.known()
            .ok_or_else(|| ModelError::NotKnown(field.to_string()))
    }
}

impl<T: Default> Default for Input<T> {
    fn default() -> Self {
        Input::Value(T::default())
    }
}

impl<T> From<T> for Input<T> {
    fn from(v: T) -> Self {
        Input::Value(v)
    }
}

impl From<&str> for Input<String> {
    fn from(v: &str) -> Self {
        Input::Value(v.to_string())
    }
}

impl<T> From<Output<T>> for Input<T> {
    fn from(o: Output<T>) -> Self {
        Input::Ref {
            urn: o.urn,
            attr: o.attr,
        }
    }
}

impl<T> From<&Output<T>> for Input<T> {
    fn from(o: &Output<T>) -> Self {
        o.clone().into()
    }
}

impl<T: Serialize> Serialize for Input<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Input::Value(v) => v.serialize(s),
            Input::Secret(v) => {
                let inner = serde_json::to_value(v).map_err(serde::ser::Error::custom)?;
                value::secret(inner).serialize(s)
            }
            Input::Ref { urn, attr } => value::reference(urn, attr).serialize(s),
            Input::Concat(parts) => {
                let parts = parts
                    .iter()
                    .map(serde_json::to_value)
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(serde::ser::Error::custom)?;
                value::concat(parts).serialize(s)
            }
            Input::Unknown => value::unknown().serialize(s),
        }
    }
}

impl<'de, T: DeserializeOwned> Deserialize<'de> for Input<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        if value::is_unknown(&v) {
            return Ok(Input::Unknown);
        }
        if let Some((u, a)) = value::as_ref(&v) {
            return Ok(Input::Ref {
                urn: Urn(u.to_string()),
                attr: a.to_string(),
            });
        }
        if value::as_concat(&v).is_some() {
            return Err(serde::de::Error::custom(
                "a $concat reached a provider without being resolved",
            ));
        }
        if value::as_sealed(&v).is_some() {
            return Err(serde::de::Error::custom(
                "a sealed secret reached a provider without being decrypted",
            ));
        }
        if let Some(inner) = value::as_secret(&v) {
            return T::deserialize(inner.clone())
                .map(Input::Secret)
                .map_err(serde::de::Error::custom);
        }
        T::deserialize(v)
            .map(Input::Value)
            .map_err(serde::de::Error::custom)
    }
}

/// The typed inputs of one resource type. `TYPE` names the type, e.g. `aws:ec2/Vpc`.
pub trait ResourceArgs: Serialize + DeserializeOwned + Send + Sync + 'static {
    const TYPE: &'static str;
}

/// Per-resource options (Pulumi's resource options / Terraform's lifecycle block).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResourceOptions {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub depends_on: Vec<Urn>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub protect: bool,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub retain_on_delete: bool,
    /// Replace by deleting first; the default is create-before-delete.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_before_replace: bool,
    /// Input paths (dotted) whose changes are not planned.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ignore_changes: Vec<String>,
    /// URNs this resource had before (Pulumi's `aliases`): a resource in
    /// state under one of them is renamed in state, not deleted and created.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<Urn>,
}

impl ResourceOptions {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn depends_on(mut self, r: &impl HasUrn) -> Self {
        self.depends_on.push(r.urn().clone());
        self
    }
    pub fn protect(mut self, yes: bool) -> Self {
        self.protect = yes;
        self
    }
    pub fn retain_on_delete(mut self, yes: bool) -> Self {
        self.retain_on_delete = yes;
        self
    }
    pub fn delete_before_replace(mut self, yes: bool) -> Self {
        self.delete_before_replace = yes;
        self
    }
    pub fn ignore_changes(mut self, path: impl Into<String>) -> Self {
        self.ignore_changes.push(path.into());
        self
    }
    /// A URN the resource had before (renamed, or moved into or out of a
    /// component).
    pub fn alias(mut self, urn: Urn) -> Self {
        self.aliases.push(urn);
        self
    }
}

pub trait HasUrn {
    fn urn(&self) -> &Urn;
}

/// Handle to a declared resource; typed accessors for its outputs are added
/// per type (`impl Resource<RandomPassword> { fn result(&self) ... }`).
pub struct Resource<A> {
    urn: Urn,
    _a: PhantomData<fn() -> A>,
}

impl<A> Clone for Resource<A> {
    fn clone(&self) -> Self {
        Resource {
            urn: self.urn.clone(),
            _a: PhantomData,
        }
    }
}

impl<A> fmt::Debug for Resource<A> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Resource({})", self.urn)
    }
}

impl<A> Resource<A> {
    pub fn output<T>(&self, attr: &str) -> Output<T> {
        Output {
            urn: self.urn.clone(),
            attr: attr.to_string(),
            _t: PhantomData,
        }
    }
    pub fn urn_clone(&self) -> Urn {
        self.urn.clone()
    }

    /// The provider id of the resource.
    pub fn id(&self) -> Output<String> {
        self.output("id")
    }
}

impl HasUrn for Urn {
    fn urn(&self) -> &Urn {
        self
    }
}

impl<A> HasUrn for Resource<A> {
    fn urn(&self) -> &Urn {
        &self.urn
    }
}

/// One declared resource, type-erased: what the planner works on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Declared {
    pub urn: Urn,
    #[serde(rename = "type")]
    pub type_name: String,
    /// Inputs with `$ref` / `$secret` markers.
    pub inputs: Value,
    pub options: ResourceOptions,
    /// Component path (empty at the root).
    #[serde(default)]
    pub parent: String,
}

impl Declared {
    /// Resources this one must come after: referenced ones and `depends_on`.
    pub fn dependencies(&self) -> Vec<Urn> {
        let mut out: Vec<Urn> = Vec::new();
        for (u, _) in value::refs(&self.inputs) {
            let u = Urn(u);
            if !out.contains(&u) {
                out.push(u);
            }
        }
        for u in &self.options.depends_on {
            if !out.contains(u) {
                out.push(u.clone());
            }
        }
        out
    }
}

/// A component (Pulumi ComponentResource / Terraform module instance).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentDecl {
    pub urn: Urn,
    pub path: String,
    #[serde(rename = "type")]
    pub type_name: String,
}

/// A declared stack: the desired state. Build it with [`Stack::root`].
#[derive(Clone, Debug, Default)]
pub struct Stack {
    name: String,
    resources: Vec<Declared>,
    components: Vec<ComponentDecl>,
    index: HashMap<Urn, usize>,
    /// `dependencies()` of each resource, computed once at declaration.
    deps: Vec<Vec<Urn>>,
}

fn check_name(what: &'static str, name: &str) -> Result<(), ModelError> {
    let bad = |reason| {
        Err(ModelError::InvalidName {
            what,
            name: name.to_string(),
            reason,
        })
    };
    if name.is_empty() {
        return bad("must not be empty");
    }
    if name.contains("::") || name.contains('/') {
        return bad("must not contain '::' or '/'");
    }
    if name.chars().any(char::is_control) {
        return bad("must not contain control characters");
    }
    Ok(())
}

impl Stack {
    pub fn new(name: &str) -> Result<Stack, ModelError> {
        check_name("stack", name)?;
        Ok(Stack {
            name: name.to_string(),
            ..Default::default()
        })
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The builder scope at the stack root.
    pub fn root(&mut self) -> Scope<'_> {
        Scope {
            stack: self,
            path: String::new(),
            protect: false,
        }
    }

    pub fn resources(&self) -> &[Declared] {
        &self.resources
    }

    pub fn components(&self) -> &[ComponentDecl] {
        &self.components
    }

    pub fn get(&self, urn: &Urn) -> Option<&Declared> {
        self.index.get(urn).map(|&i| &self.resources[i])
    }

    /// Adds an already type-erased resource (used by importers and tests).
    pub fn push(&mut self, d: Declared) -> Result<(), ModelError> {
        if self.index.contains_key(&d.urn) {
            return Err(ModelError::DuplicateUrn(d.urn.to_string()));
        }
        self.index.insert(d.urn.clone(), self.resources.len());
        self.deps.push(d.dependencies());
        self.resources.push(d);
        Ok(())
    }

    /// What resource `i` must come after (references and `depends_on`).
    pub fn dependencies_of(&self, i: usize) -> &[Urn] {
        &self.deps[i]
    }

    /// Checks that every reference and `depends_on` names a declared resource.
    pub fn check_references(&self) -> Result<(), ModelError> {
        for (d, deps) in self.resources.iter().zip(&self.deps) {
            if let Some(u) = deps.iter().find(|u| !self.index.contains_key(*u)) {
                let (urn, target) = (d.urn.to_string(), u.to_string());
                return Err(if d.options.depends_on.contains(u) {
                    ModelError::UnknownDependency { urn, target }
                } else {
                    ModelError::UnknownReference { urn, target }
                });
            }
        }
        Ok(())
    }
}

/// Where resources are declared: the stack root or inside a component.
pub struct Scope<'s> {
    stack: &'s mut Stack,
    path: String,
    protect: bool,
}

impl Scope<'_> {
    pub fn stack_name(&self) -> &str {
        &self.stack.name
    }

    pub fn path(&self) -> &str {
        &self.path
    }

    /// Declares a resource with default options.
    pub fn resource<A: ResourceArgs>(
        &mut self,
        name: &str,
        args: A,
    ) -> Result<Resource<A>, ModelError> {
        self.resource_with(name, args, ResourceOptions::default())
    }

    pub fn resource_with<A: ResourceArgs>(
        &mut self,
        name: &str,
        args: A,
        mut options: ResourceOptions,
    ) -> Result<Resource<A>, ModelError> {
        check_name("resource", name)?;
        let urn = Urn::new(&self.stack.name, &self.path, A::TYPE, name);
        let inputs = serde_json::to_value(&args).map_err(|e| ModelError::BadInputs {
            urn: urn.to_string(),
            type_name: A::TYPE.into(),
            reason: e.to_string(),
        })?;
        if !inputs.is_object() {
            return Err(ModelError::BadInputs {
                urn: urn.to_string(),
                type_name: A::TYPE.into(),
                reason: "not an object".into(),
            });
        }
        // Protection is inherited from the enclosing component, as in Pulumi.
        options.protect |= self.protect;
        self.stack.push(Declared {
            urn: urn.clone(),
            type_name: A::TYPE.to_string(),
            inputs,
            options,
            parent: self.path.clone(),
        })?;
        Ok(Resource {
            urn,
            _a: PhantomData,
        })
    }

    /// Opens a child component scope named `name` of component type `type_name`.
    pub fn component(&mut self, type_name: &str, name: &str) -> Result<Scope<'_>, ModelError> {
        check_name("component", name)?;
        let path = if self.path.is_empty() {
            name.to_string()
        } else {
            format!("{}/{}", self.path, name)
        };
        let urn = Urn::new(&self.stack.name, &self.path, type_name, name);
        if self.stack.components.iter().any(|c| c.path == path) {
            return Err(ModelError::DuplicateUrn(urn.to_string()));
        }
        self.stack.components.push(ComponentDecl {
            urn,
            path: path.clone(),
            type_name: type_name.to_string(),
        });
        Ok(Scope {
            protect: self.protect,
            stack: self.stack,
            path,
        })
    }

    /// Protects every resource declared in this scope from now on.
    pub fn protect_all(mut self, yes: bool) -> Self {
        self.protect = yes;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Serialize, Deserialize)]
    struct Thing {
        name: Input<String>,
        #[serde(default)]
        peer: Option<Input<String>>,
    }
    impl ResourceArgs for Thing {
        const TYPE: &'static str = "test:index/Thing";
    }

    #[test]
    fn urns_components_and_references() {
        let mut s = Stack::new("dev").unwrap();
        let mut root = s.root();
        let a = root
            .resource(
                "a",
                Thing {
                    name: "x".into(),
                    peer: None,
                },
            )
            .unwrap();
        let mut net = root.component("test:Net", "net").unwrap();
        let b = net
            .resource(
                "b",
                Thing {
                    name: Input::secret("pw"),
                    peer: Some(a.id().into()),
                },
            )
            .unwrap();
        assert_eq!(a.urn().as_str(), "dev::::test:index/Thing::a");
        assert_eq!(b.urn().as_str(), "dev::net::test:index/Thing::b");
        assert_eq!(b.urn().component_path(), "net");
        assert_eq!(b.urn().type_name(), "test:index/Thing");
        let err = root.resource(
            "a",
            Thing {
                name: "y".into(),
                peer: None,
            },
        );
        assert_eq!(
            err.unwrap_err(),
            ModelError::DuplicateUrn("dev::::test:index/Thing::a".into())
        );
        let d = s.get(b.urn()).unwrap();
        assert_eq!(d.dependencies(), vec![a.urn().clone()]);
        assert_eq!(d.inputs["name"], serde_json::json!({"$secret": "pw"}));
        let back: Thing = serde_json::from_value(d.inputs.clone()).unwrap();
        assert!(back.name.is_secret());
        assert!(matches!(back.peer, Some(Input::Ref { .. })));
        s.check_references().unwrap();
    }

    #[test]
    fn bad_names_are_rejected() {
        assert!(Stack::new("a::b").is_err());
        let mut s = Stack::new("dev").unwrap();
        let e = s.root().resource(
            "x/y",
            Thing {
                name: "x".into(),
                peer: None,
            },
        );
        assert!(matches!(e, Err(ModelError::InvalidName { .. })));
    }
}
