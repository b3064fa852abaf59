//! What the AWS tests share: the stack name, a store, settings, the registry
//! of every AWS type, an engine over a freshly reset moto ([`Env`]), and the
//! small look-ups they all make (steps of a plan, failures of an apply, the
//! stack's tag filter, the create of an interrupted run, SDK fixtures).

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use morket_stack::engine::Engine;
use morket_stack::exec::{ApplyReport, Cancel, OpStatus};
use morket_stack::model::{HasUrn, Resource, ResourceArgs, Stack, Urn};
use morket_stack::plan::{Plan, PlanOptions, Step};
use morket_stack::provider::aws::{self, Aws, AwsSettings};
use morket_stack::provider::{Created, Ctx, Registry};
use morket_stack::secrets::{self, Crypter};
use morket_stack::state::{MemoryStore, OpKind, PendingOp, StateStore};
use serde_json::Value;

use super::moto::{self, Moto};

pub const STACK: &str = "staging";

/// AWS time in tests against plain moto: the provider's delays and budgets
/// at 1/100 (a 2-minute grace is 1.2 s).
pub const TIME_SCALE: f64 = 0.01;

/// AWS time in tests against the AWS-like peer, for the peer and the
/// provider alike: its 10 s consistency window (0.5 s) outlasts moto's own
/// slow first calls, its 5-minute ENI linger is 15 s.
pub const AWS_LIKE_SCALE: f64 = 0.05;

/// An empty memory store for [`STACK`] with a fresh secrets key.
pub fn store() -> MemoryStore {
    let mut s = MemoryStore::new(STACK);
    s.set_crypter(Crypter::new(&secrets::random_key())).unwrap();
    s
}

/// The `Project = morket` default tag, a poll every 20 ms, waits of at most
/// 20 s, and AWS delays and budgets at 1/100 (as the AWS-like peer's).
pub fn settings() -> AwsSettings {
    AwsSettings {
        default_tags: [("Project".to_string(), "morket".to_string())].into(),
        poll_interval: Duration::from_millis(20),
        wait_timeout: Duration::from_secs(20),
        time_scale: TIME_SCALE,
        // moto is always consistent: a lookup that misses proves absence.
        lookup_lag: Duration::ZERO,
        ..Default::default()
    }
}

/// The URN in a `morket:urn` tag value (`URN#lineage`).
pub fn tag_urn(v: &str) -> &str {
    v.rsplit_once('#').map_or(v, |(u, _)| u)
}

/// The built-in providers (`random` and so on) and every AWS type over `aws`.
pub fn registry(aws: Arc<Aws>) -> Registry {
    let mut reg = Registry::builtin();
    aws::register(&mut reg, aws);
    reg
}

/// An engine over an empty store whose AWS types have no endpoint and no
/// credentials: what validation refuses fails the preview before any call.
pub fn offline_engine(settings: AwsSettings) -> Engine {
    Engine::new(Box::new(store()), registry(Arc::new(Aws::new(settings))))
}

/// The preview error of a stack that declares only `args`.
pub async fn preview_error(eng: &mut Engine, args: impl ResourceArgs) -> String {
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("x", args).unwrap();
    let e = eng
        .preview(&st, &PlanOptions::default())
        .await
        .expect_err("invalid");
    format!("{e:#}")
}

/// A URN, or a resource handle for its URN.
pub trait AsUrn {
    fn as_urn(&self) -> &Urn;
}

impl AsUrn for Urn {
    fn as_urn(&self) -> &Urn {
        self
    }
}

impl<A> AsUrn for Resource<A> {
    fn as_urn(&self) -> &Urn {
        self.urn()
    }
}

/// The context of a provider call for `r`.
pub fn ctx(r: &impl AsUrn) -> Ctx {
    Ctx::new(STACK, r.as_urn().clone())
}

/// The step of `plan` for `r`.
pub fn step<'p>(plan: &'p Plan, r: &impl AsUrn) -> &'p Step {
    let urn = r.as_urn();
    plan.steps
        .iter()
        .find(|s| &s.urn == urn)
        .unwrap_or_else(|| panic!("no step for {urn}: {:?}", plan.steps))
}

/// The messages of the failed operations of an apply.
pub fn failures(report: &ApplyReport) -> Vec<String> {
    report
        .ops
        .iter()
        .filter_map(|o| match &o.status {
            OpStatus::Failed(m) => Some(m.clone()),
            _ => None,
        })
        .collect()
}

/// EC2 objects tagged with this stack (`morket:stack`).
pub fn stack_filter() -> aws_sdk_ec2::types::Filter {
    aws_sdk_ec2::types::Filter::builder()
        .name("tag:morket:stack")
        .values(STACK)
        .build()
}

/// A freshly reset moto, every AWS type registered against it, an empty store
/// and an engine over both. It holds moto for the whole test: when
/// destructuring, bind `moto` (`moto: _moto`), or the next test takes it over.
pub struct Env {
    pub moto: Moto,
    /// The SDK configuration pointed at moto, for clients of other services.
    pub conf: SdkConfig,
    pub ec2: aws_sdk_ec2::Client,
    pub reg: Registry,
    pub st: MemoryStore,
    pub eng: Engine,
    pub cancel: Cancel,
}

impl Env {
    pub async fn new(settings: AwsSettings) -> Env {
        let moto = moto::moto();
        let conf = moto.sdk_config().await;
        let reg = registry(Arc::new(moto.aws(settings).await));
        let st = store();
        let eng = Engine::new(Box::new(st.clone()), reg.clone());
        Env {
            ec2: aws_sdk_ec2::Client::new(&conf),
            moto,
            conf,
            reg,
            st,
            eng,
            cancel: Cancel::new(),
        }
    }

    /// Like [`Env::new`], with moto answering like AWS (every behaviour of
    /// `scripts/aws_like.py` on), AWS time at [`AWS_LIKE_SCALE`] on both
    /// sides, and SDK retries cut to 2 attempts so that the peer's windows
    /// outlast them: what passes is the engine's and the provider's handling.
    pub async fn aws_like(settings: AwsSettings) -> Env {
        let e = Env::new(AwsSettings {
            time_scale: AWS_LIKE_SCALE,
            max_attempts: 2,
            ..settings
        })
        .await;
        // moto builds its backends on first use, which takes longer than the
        // shortest windows: make that happen before the clock matters.
        e.ec2.describe_vpcs().send().await.unwrap();
        aws_sdk_iam::Client::new(&e.conf)
            .list_roles()
            .send()
            .await
            .unwrap();
        e.moto
            .aws_like(serde_json::json!({"on": "all", "scale": AWS_LIKE_SCALE}));
        e
    }

    /// How many requests the AWS-like peer answered unlike moto, per
    /// behaviour: `{"consistency": 3, "eni": 2}`.
    pub fn aws_like_fired(&self) -> std::collections::BTreeMap<String, u64> {
        let v = self.moto.aws_like_fired();
        v["fired"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(k, ops)| {
                let n = ops
                    .as_object()
                    .into_iter()
                    .flatten()
                    .filter_map(|(_, c)| c.as_u64())
                    .sum();
                (k.clone(), n)
            })
            .collect()
    }

    /// Applies `s`; the apply must succeed.
    pub async fn up(&mut self, s: &Stack) -> Plan {
        let (plan, report) = self
            .eng
            .up(s, &PlanOptions::default(), &self.cancel)
            .await
            .unwrap();
        assert!(report.is_success(), "{report:?}");
        plan
    }

    /// Applies `s`, then a second preview must show no changes.
    pub async fn up_stable(&mut self, s: &Stack) -> Plan {
        let plan = self.up(s).await;
        self.no_changes(s).await;
        plan
    }

    /// Applies `s` expecting a failure; returns the failure messages.
    pub async fn up_failing(&mut self, s: &Stack) -> String {
        let (_, report) = self
            .eng
            .up(s, &PlanOptions::default(), &self.cancel)
            .await
            .unwrap();
        assert!(!report.is_success(), "{report:?}");
        failures(&report).join("\n")
    }

    /// A preview of `s` shows no changes.
    pub async fn no_changes(&mut self, s: &Stack) {
        let p = self.eng.preview(s, &PlanOptions::default()).await.unwrap();
        assert!(!p.has_changes(), "{:?}", p.steps);
    }

    /// The id of `r` in state.
    pub fn id(&self, r: &impl AsUrn) -> String {
        self.st.resource(r.as_urn()).unwrap().unwrap().id
    }

    /// The outputs of `r` in state.
    pub fn outputs(&self, r: &impl AsUrn) -> Value {
        self.st.resource(r.as_urn()).unwrap().unwrap().outputs
    }

    /// A create of `r` that returned in a run killed before its checkpoint:
    /// the pending create (with the inputs it was given) is in the store and
    /// the resource exists, but state does not know it.
    pub async fn interrupted_create(&mut self, r: &impl AsUrn, inputs: &Value) -> Created {
        let urn = r.as_urn();
        self.st
            .begin_op(&PendingOp {
                id: 0,
                urn: urn.clone(),
                kind: OpKind::Create,
                type_name: urn.type_name().into(),
                resource_id: String::new(),
                inputs: inputs.clone(),
                started_at: "2026-11-25T00:00:00Z".into(),
            })
            .unwrap();
        self.reg
            .get(urn.type_name())
            .unwrap()
            .create(&ctx(urn), inputs)
            .await
            .unwrap()
    }

    /// Reads `r` through its provider: its live inputs, `None` when it is gone.
    pub async fn read(&self, r: &impl AsUrn) -> Option<Value> {
        let urn = r.as_urn();
        let rec = self.st.resource(urn).unwrap().unwrap();
        self.reg
            .get(urn.type_name())
            .unwrap()
            .read(&ctx(urn), &rec.id, &rec.inputs, &rec.outputs)
            .await
            .unwrap()
            .map(|r| r.inputs)
    }

    /// The ids its provider finds by the URN tag of `r`, given its inputs in state.
    pub async fn find(&self, r: &impl AsUrn) -> Vec<String> {
        let urn = r.as_urn();
        let rec = self.st.resource(urn).unwrap().unwrap();
        self.reg
            .get(urn.type_name())
            .unwrap()
            .find_by_urn(&ctx(urn), &rec.inputs)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.id)
            .collect()
    }
}

// Fixtures made with the SDK directly, not through the engine.

/// A VPC; returns its id.
pub async fn create_vpc(ec2: &aws_sdk_ec2::Client, cidr: &str) -> String {
    ec2.create_vpc()
        .cidr_block(cidr)
        .send()
        .await
        .unwrap()
        .vpc()
        .unwrap()
        .vpc_id()
        .unwrap()
        .to_string()
}

/// A subnet, in zone `az` when given; returns its id.
pub async fn create_subnet(
    ec2: &aws_sdk_ec2::Client,
    vpc: &str,
    cidr: &str,
    az: Option<&str>,
) -> String {
    ec2.create_subnet()
        .vpc_id(vpc)
        .cidr_block(cidr)
        .set_availability_zone(az.map(str::to_string))
        .send()
        .await
        .unwrap()
        .subnet()
        .unwrap()
        .subnet_id()
        .unwrap()
        .to_string()
}

/// A security group, in `vpc` when given (else the default VPC); returns its id.
pub async fn create_security_group(
    ec2: &aws_sdk_ec2::Client,
    name: &str,
    description: &str,
    vpc: Option<&str>,
) -> String {
    ec2.create_security_group()
        .group_name(name)
        .description(description)
        .set_vpc_id(vpc.map(str::to_string))
        .send()
        .await
        .unwrap()
        .group_id()
        .unwrap()
        .to_string()
}
