//! The engine over moto, as the aws_* tests drive it: one stack in a memory
//! store (secrets sealed), every AWS type registered against a reset moto,
//! default tags, short waiter polls.

use std::sync::Arc;
use std::time::Duration;

use aws_config::SdkConfig;
use morket_stack::engine::Engine;
use morket_stack::exec::Cancel;
use morket_stack::model::{ResourceArgs, Stack, Urn};
use morket_stack::plan::{Plan, PlanOptions, Step};
use morket_stack::provider::aws::{self, Aws, AwsSettings};
use morket_stack::provider::{Ctx, Registry};
use morket_stack::secrets::{self, Crypter};
use morket_stack::state::{MemoryStore, StateStore};
use serde_json::Value;

use super::moto::{self, Moto};

pub const STACK: &str = "staging";

pub fn store() -> MemoryStore {
    let mut s = MemoryStore::new(STACK);
    s.set_crypter(Crypter::new(&secrets::random_key())).unwrap();
    s
}

pub fn settings() -> AwsSettings {
    AwsSettings {
        default_tags: [("Project".to_string(), "morket".to_string())].into(),
        poll_interval: Duration::from_millis(20),
        wait_timeout: Duration::from_secs(20),
        ..Default::default()
    }
}

pub fn ctx(urn: &Urn) -> Ctx {
    Ctx {
        stack: STACK.into(),
        urn: urn.clone(),
    }
}

pub struct Harness {
    pub moto: Moto,
    /// For SDK clients that make fixtures and check results.
    pub conf: SdkConfig,
    pub reg: Registry,
    pub st: MemoryStore,
    pub eng: Engine,
    pub cancel: Cancel,
}

pub async fn harness() -> Harness {
    let moto = moto::moto();
    let conf = moto.sdk_config().await;
    let mut reg = Registry::new();
    aws::register(&mut reg, Arc::new(moto.aws(settings()).await));
    let st = store();
    let eng = Engine::new(Box::new(st.clone()), reg.clone());
    Harness {
        moto,
        conf,
        reg,
        st,
        eng,
        cancel: Cancel::new(),
    }
}

impl Harness {
    /// Applies, then checks that a second preview has nothing to do.
    pub async fn up(&mut self, s: &Stack) -> Plan {
        let (plan, report) = self
            .eng
            .up(s, &PlanOptions::default(), &self.cancel)
            .await
            .unwrap();
        assert!(report.is_success(), "{report:?}");
        self.no_changes(s).await;
        plan
    }

    pub async fn no_changes(&mut self, s: &Stack) {
        let p = self.eng.preview(s, &PlanOptions::default()).await.unwrap();
        assert!(!p.has_changes(), "{:?}", p.steps);
    }

    pub fn outputs(&self, urn: &Urn) -> Value {
        self.st.resource(urn).unwrap().unwrap().outputs
    }

    /// A read with the recorded id, inputs and outputs; the live inputs.
    pub async fn read(&self, type_name: &str, urn: &Urn) -> Value {
        let rec = self.st.resource(urn).unwrap().unwrap();
        self.reg
            .get(type_name)
            .unwrap()
            .read(&ctx(urn), &rec.id, &rec.inputs, &rec.outputs)
            .await
            .unwrap()
            .expect("live")
            .inputs
    }
}

pub fn step<'p>(plan: &'p Plan, urn: &Urn) -> &'p Step {
    plan.steps
        .iter()
        .find(|s| &s.urn == urn)
        .unwrap_or_else(|| panic!("no step for {urn}: {:?}", plan.steps))
}

/// The preview error for a stack of one resource, with no AWS behind it:
/// validation happens before any call.
pub async fn preview_error(d: impl ResourceArgs) -> String {
    let mut reg = Registry::new();
    aws::register(&mut reg, Arc::new(Aws::new(settings())));
    let mut eng = Engine::new(Box::new(store()), reg);
    let mut st = Stack::new(STACK).unwrap();
    st.root().resource("x", d).unwrap();
    eng.preview(&st, &PlanOptions::default())
        .await
        .unwrap_err()
        .to_string()
}
