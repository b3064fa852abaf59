//! Planning: the diff of a declared stack against state, and the schedule of
//! provider operations that applies it. Pure: the caller hands in a state view.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::graph::{Graph, GraphError};
use crate::model::{Declared, ModelError, Stack, Urn};
use crate::provider::{Created, ProviderError, Registry};
use crate::state::{OpKind, PendingOp, ResourceState};
use crate::value::{self, Resolved};

pub const PLAN_VERSION: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error("{urn}: no provider for resource type {type_name}")]
    UnknownType { urn: Urn, type_name: String },
    #[error("{} invalid input(s):\n{}", .0.len(), .0.iter().map(|(u, e)| format!("  {u}: {e}")).collect::<Vec<_>>().join("\n"))]
    Invalid(Vec<(Urn, ProviderError)>),
    #[error("{}", .0.join("\n"))]
    Protected(Vec<String>),
    #[error("{}", .0.join("\n"))]
    InUse(Vec<String>),
    #[error("--target {0} names no declared or managed resource")]
    UnknownTarget(Urn),
}

/// What happens to one resource. Terraform's `plans.Action`, Pulumi's step ops.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Same,
    Create,
    Update,
    Replace,
    Delete,
    /// A lookup read while planning: its answer (in the step) is recorded
    /// as the plan is applied, with no provider call.
    Read,
}

impl Action {
    /// The symbol shown in a plan (`delete_before_replace` picks `-/+` over `+/-`).
    pub fn symbol(self, delete_before_replace: bool) -> &'static str {
        match self {
            Action::Same => " ",
            Action::Create => "+",
            Action::Update => "~",
            Action::Replace if delete_before_replace => "-/+",
            Action::Replace => "+/-",
            Action::Delete => "-",
            Action::Read => "<=",
        }
    }
}

/// One resource's planned change: old state and new declaration side by side.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub urn: Urn,
    #[serde(rename = "type")]
    pub type_name: String,
    pub action: Action,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub delete_before_replace: bool,
    /// Deleting the leftover old half of an interrupted replacement.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub condemned: bool,
    /// State before the step (absent for creates and unchanged resources).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub old: Option<ResourceState>,
    /// The declaration (absent for deletes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub new: Option<Declared>,
    /// Inputs as far as they are known at plan time (unknowns marked).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub planned_inputs: Option<Value>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changed: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub replace_fields: Vec<String>,
    /// The URN the resource is recorded under now (an alias): renamed in
    /// state before anything else runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renamed_from: Option<Urn>,
    /// What a lookup answered while planning (`Action::Read`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub looked_up: Option<Created>,
}

/// How preview settled one pending operation of an interrupted run; apply
/// settles again and refuses the plan if the answer differs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Settled {
    pub pending_id: i64,
    /// What settling does to state, in short (ids and a digest of inputs).
    pub outcome: String,
}

/// A plan: serializable, applied exactly as shown.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Plan {
    pub version: u32,
    pub stack: String,
    /// State serial the plan was made against; apply refuses another.
    pub serial: u64,
    /// Lineage of the state the plan was made against; apply refuses a plan
    /// made against another state of the same stack name.
    #[serde(default)]
    pub lineage: String,
    pub destroy: bool,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub targets: Vec<Urn>,
    /// Changed resources only, in dependency order (deletes last).
    pub steps: Vec<Step>,
    /// Number of unchanged resources.
    pub unchanged: usize,
    /// Pending operations of an interrupted run that apply resolves first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pending: Vec<PendingOp>,
    /// How preview settled them (apply must find the same).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub settled: Vec<Settled>,
    /// What `--refresh` found changed or deleted outside morket-stack; apply
    /// records it first, without a call, and the steps are planned from it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub refreshed: Vec<crate::drift::Refreshed>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counts {
    pub create: usize,
    pub update: usize,
    pub replace: usize,
    pub delete: usize,
    #[serde(default)]
    pub read: usize,
}

impl Plan {
    pub fn counts(&self) -> Counts {
        let mut c = Counts::default();
        for s in &self.steps {
            match s.action {
                Action::Create => c.create += 1,
                Action::Update => c.update += 1,
                Action::Replace => c.replace += 1,
                Action::Delete => c.delete += 1,
                Action::Read => c.read += 1,
                Action::Same => {}
            }
        }
        c
    }

    /// Steps that change infrastructure or state (metadata-only steps are
    /// `Same`; a lookup whose answer is new is `Read`).
    pub fn changes(&self) -> impl Iterator<Item = &Step> {
        self.steps.iter().filter(|s| s.action != Action::Same)
    }

    pub fn has_changes(&self) -> bool {
        self.steps.iter().any(|s| s.action != Action::Same)
    }
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Plan: {} to create, {} to update, {} to replace, {} to delete.",
            self.create, self.update, self.replace, self.delete
        )?;
        match self.read {
            0 => Ok(()),
            1 => write!(f, " 1 lookup read."),
            n => write!(f, " {n} lookups read."),
        }
    }
}

/// The state a plan is made against.
#[derive(Debug, Clone, Default)]
pub struct StateView {
    pub serial: u64,
    pub lineage: String,
    pub resources: Vec<ResourceState>,
    pub condemned: Vec<ResourceState>,
    pub pending: Vec<PendingOp>,
    /// Lookups the engine read for this plan (see `Engine::read_lookups`);
    /// a lookup not here keeps its recorded answer or is read at apply.
    pub looked_up: HashMap<Urn, Created>,
}

#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub destroy: bool,
    /// Only these resources (and what they depend on); deletes only if named.
    pub targets: Vec<Urn>,
    /// Read every lookup again, not only new or changed ones.
    pub refresh: bool,
}

/// Output fields of a lookup's answer that differ from what state records.
fn changed_outputs(prior: Option<&ResourceState>, c: &Created) -> Vec<String> {
    let empty = serde_json::Map::new();
    let old = prior.and_then(|o| o.outputs.as_object()).unwrap_or(&empty);
    let new = c.outputs.as_object().unwrap_or(&empty);
    new.iter()
        .filter(|(k, v)| old.get(*k) != Some(v))
        .map(|(k, _)| k.clone())
        .chain(old.keys().filter(|k| !new.contains_key(*k)).cloned())
        .collect()
}

/// Whether `row` records an answer of the lookup `provider` declared as
/// `type_name` with `inputs`: then it stands unless `--refresh`.
pub fn lookup_recorded(
    provider: &dyn crate::provider::Provider,
    row: &ResourceState,
    type_name: &str,
    inputs: &Value,
) -> bool {
    !row.tainted && row.type_name == type_name && provider.diff(&row.inputs, inputs).is_empty()
}

/// Looks up `attr` of a resource in state: `id` falls back to the provider id.
pub fn state_attr(r: &ResourceState, attr: &str) -> Value {
    match r.outputs.get(attr) {
        Some(v) => v.clone(),
        None if attr == "id" => Value::String(r.id.clone()),
        None => Value::Null,
    }
}

/// Plans `stack` against `state`.
pub fn plan(
    stack: &Stack,
    state: &StateView,
    registry: &Registry,
    opts: &PlanOptions,
) -> Result<Plan, PlanError> {
    stack.check_references()?;
    // Aliases: a declared resource with no row of its own takes over the row
    // of a URN it had before (unless that URN is itself declared).
    let rows: HashSet<&Urn> = state.resources.iter().map(|r| &r.urn).collect();
    let mut renamed: HashMap<Urn, Urn> = HashMap::new();
    for d in stack.resources() {
        if rows.contains(&d.urn) {
            continue;
        }
        let from = d.options.aliases.iter().find(|a| {
            rows.contains(a) && stack.get(a).is_none() && !renamed.values().any(|f| f == *a)
        });
        if let Some(a) = from {
            renamed.insert(d.urn.clone(), a.clone());
        }
    }
    // A destroy deletes rows under the URNs state has them.
    if renamed.is_empty() || opts.destroy {
        return plan_view(
            stack,
            state,
            registry,
            opts,
            &HashMap::new(),
            &HashSet::new(),
        );
    }
    // Plan against state as it will be after the renames: rows, old halves
    // and every recorded dependency under the new URNs, so ordering and the
    // in-use checks see who uses what.
    let to: HashMap<&Urn, &Urn> = renamed.iter().map(|(t, f)| (f, t)).collect();
    let moved = |r: &ResourceState| {
        let mut r = r.clone();
        if let Some(t) = to.get(&r.urn) {
            r.urn = (*t).clone();
        }
        for d in &mut r.dependencies {
            if let Some(t) = to.get(d) {
                *d = (*t).clone();
            }
        }
        r
    };
    let remapped = StateView {
        resources: state.resources.iter().map(moved).collect(),
        condemned: state.condemned.iter().map(moved).collect(),
        ..state.clone()
    };
    // Rows whose recorded dependencies name a renamed URN: state must learn
    // the new names too (a metadata step).
    let deps_moved: HashSet<Urn> = state
        .resources
        .iter()
        .filter(|r| r.dependencies.iter().any(|d| to.contains_key(d)))
        .map(|r| {
            to.get(&r.urn)
                .map_or_else(|| r.urn.clone(), |t| (*t).clone())
        })
        .collect();
    plan_view(stack, &remapped, registry, opts, &renamed, &deps_moved)
}

fn plan_view(
    stack: &Stack,
    state: &StateView,
    registry: &Registry,
    opts: &PlanOptions,
    renamed: &HashMap<Urn, Urn>,
    deps_moved: &HashSet<Urn>,
) -> Result<Plan, PlanError> {
    let graph = Graph::build(stack)?;
    let decl = stack.resources();
    let old: HashMap<&Urn, &ResourceState> = state.resources.iter().map(|r| (&r.urn, r)).collect();

    let targeted = target_set(stack, &graph, state, opts)?;
    let is_targeted = |u: &Urn| targeted.as_ref().is_none_or(|t| t.contains(u));

    let mut actions: HashMap<&Urn, Action> = HashMap::with_capacity(decl.len());
    let mut steps = Vec::new();
    let mut unchanged = 0usize;
    let mut invalid = Vec::new();
    let mut protected = Vec::new();
    let mut kept_names: Vec<(Urn, Option<&'static [&'static str]>)> = Vec::new();

    if !opts.destroy {
        for &i in &graph.order {
            let d = &decl[i];
            let Some(provider) = registry.get(&d.type_name) else {
                return Err(PlanError::UnknownType {
                    urn: d.urn.clone(),
                    type_name: d.type_name.clone(),
                });
            };
            let mut inputs = value::resolve(&d.inputs, &mut |u, a| {
                let u = Urn::parse(u).expect("references were checked");
                let target_action = actions.get(&u).copied().unwrap_or(Action::Same);
                let target = old.get(&u);
                match (target_action, target) {
                    (Action::Read, _) => match state.looked_up.get(&u) {
                        Some(c) => Resolved::Known(c.attr(a)),
                        None => Resolved::Unknown,
                    },
                    (Action::Create | Action::Replace, _) | (_, None) => Resolved::Unknown,
                    (Action::Update, Some(_))
                        if registry
                            .get(u.type_name())
                            .is_some_and(|p| p.outputs_changed_by_update().contains(&a)) =>
                    {
                        Resolved::Unknown
                    }
                    (_, Some(r)) => Resolved::Known(state_attr(r, a)),
                }
            });
            if let Err(e) = provider.validate(&inputs) {
                invalid.push((d.urn.clone(), e));
            }
            let prior = old.get(&d.urn).copied();
            let same_lookup =
                |o: &ResourceState| lookup_recorded(provider.as_ref(), o, &d.type_name, &inputs);
            let (action, changed, replace_fields) = match prior {
                // A lookup read while planning: recorded unless state
                // already holds this very answer.
                _ if provider.is_lookup() && state.looked_up.contains_key(&d.urn) => {
                    let c = &state.looked_up[&d.urn];
                    match prior {
                        Some(o) if same_lookup(o) && o.id == c.id && o.outputs == c.outputs => {
                            (Action::Same, Vec::new(), Vec::new())
                        }
                        _ => (Action::Read, changed_outputs(prior, c), Vec::new()),
                    }
                }
                // A lookup not read now (its inputs wait on a change, or no
                // credentials): its recorded answer stands, else it is read
                // at apply (create / update call the lookup).
                Some(o) if provider.is_lookup() && same_lookup(o) => {
                    (Action::Same, Vec::new(), Vec::new())
                }
                Some(_) if provider.is_lookup() => {
                    (Action::Update, vec!["(inputs)".into()], Vec::new())
                }
                None => (Action::Create, Vec::new(), Vec::new()),
                // Not known to be what was declared: replaced, as Terraform
                // replaces a tainted resource.
                Some(o) if o.tainted => (
                    Action::Replace,
                    vec!["(tainted)".to_string()],
                    vec!["(tainted)".to_string()],
                ),
                Some(o) if o.type_name != d.type_name => (
                    Action::Replace,
                    vec!["type".to_string()],
                    vec!["type".to_string()],
                ),
                Some(o) => {
                    for path in &d.options.ignore_changes {
                        value::set_path(
                            &mut inputs,
                            path,
                            value::get_path(&o.inputs, path).cloned(),
                        );
                    }
                    let diff = provider.diff(&o.inputs, &inputs);
                    if diff.is_empty() {
                        (Action::Same, diff.changed, diff.replace)
                    } else if diff.replace.is_empty() {
                        (Action::Update, diff.changed, diff.replace)
                    } else {
                        (Action::Replace, diff.changed, diff.replace)
                    }
                }
            };
            let action = if is_targeted(&d.urn) {
                action
            } else {
                Action::Same
            };
            if action == Action::Replace
                && (d.options.protect || prior.is_some_and(|o| o.options.protect))
            {
                protected.push(format!(
                    "{} is protected and cannot be replaced (force-new change in: {}); to replace it, first set only protect = false (keep those inputs as they were) and run `up`, then make the change",
                    d.urn,
                    replace_fields.join(", ")
                ));
            }
            actions.insert(&d.urn, action);
            if action == Action::Same {
                unchanged += 1;
                // Options and dependencies are recorded without a provider call
                // (not for resources outside --target: their real changes wait,
                // so new dependencies would disagree with the recorded inputs).
                let meta_changed = is_targeted(&d.urn)
                    && prior.is_some_and(|o| {
                        o.options != d.options
                            || o.parent != d.parent
                            || o.dependencies != stack.dependencies_of(i)
                    })
                    || renamed.contains_key(&d.urn)
                    || deps_moved.contains(&d.urn);
                if !meta_changed {
                    continue;
                }
            }
            // A replacement that keeps the unique name cannot exist beside
            // the old resource: delete first, as Terraform does by default.
            let name_kept = action == Action::Replace
                && !provider.unique_name().is_empty()
                && prior.is_some_and(|o| {
                    o.type_name == d.type_name
                        && provider
                            .unique_name()
                            .iter()
                            .all(|f| o.inputs.get(*f) == inputs.get(*f))
                });
            if name_kept {
                kept_names.push((d.urn.clone(), Some(provider.unique_name())));
            } else if action == Action::Replace && d.options.delete_before_replace {
                kept_names.push((d.urn.clone(), None));
            }
            steps.push(Step {
                urn: d.urn.clone(),
                type_name: d.type_name.clone(),
                action,
                delete_before_replace: d.options.delete_before_replace || name_kept,
                condemned: false,
                old: prior.cloned(),
                new: Some(d.clone()),
                planned_inputs: Some(inputs),
                changed,
                replace_fields,
                renamed_from: renamed.get(&d.urn).cloned(),
                looked_up: (action == Action::Read)
                    .then(|| state.looked_up.get(&d.urn).cloned())
                    .flatten(),
            });
        }
    }

    // Deletes: managed but no longer declared (or everything, for destroy).
    let mut deletes: Vec<&ResourceState> = state
        .resources
        .iter()
        .filter(|r| (opts.destroy || stack.get(&r.urn).is_none()) && is_targeted(&r.urn))
        .collect();
    order_deletes(&mut deletes);
    for r in deletes {
        if r.options.protect {
            protected.push(format!(
                "{} is protected and cannot be deleted; set protect = false and run `up` first",
                r.urn
            ));
        }
        steps.push(delete_step(r, false));
    }
    for r in state.condemned.iter().filter(|r| is_targeted(&r.urn)) {
        steps.push(delete_step(r, true));
    }
    if !invalid.is_empty() {
        return Err(PlanError::Invalid(invalid));
    }
    if !protected.is_empty() {
        return Err(PlanError::Protected(protected));
    }
    propagate_delete_before_replace(&mut steps, state);
    let in_use = delete_first_in_use(&steps, state, &kept_names);
    if !in_use.is_empty() {
        return Err(PlanError::InUse(in_use));
    }
    Ok(Plan {
        version: PLAN_VERSION,
        stack: stack.name().to_string(),
        serial: state.serial,
        lineage: state.lineage.clone(),
        destroy: opts.destroy,
        targets: opts.targets.clone(),
        steps,
        unchanged,
        pending: state.pending.clone(),
        settled: Vec::new(),
        refreshed: Vec::new(),
    })
}

fn delete_step(r: &ResourceState, condemned: bool) -> Step {
    Step {
        urn: r.urn.clone(),
        type_name: r.type_name.clone(),
        action: Action::Delete,
        delete_before_replace: false,
        condemned,
        old: Some(r.clone()),
        new: None,
        planned_inputs: None,
        changed: Vec::new(),
        replace_fields: Vec::new(),
        renamed_from: None,
        looked_up: None,
    }
}

/// Dependents first, so the listing reads in the order deletes run.
fn order_deletes(deletes: &mut Vec<&ResourceState>) {
    let set: HashSet<&Urn> = deletes.iter().map(|r| &r.urn).collect();
    let mut g = petgraph::graph::DiGraph::<usize, ()>::new();
    let nodes: Vec<_> = (0..deletes.len()).map(|i| g.add_node(i)).collect();
    let idx: HashMap<&Urn, usize> = deletes
        .iter()
        .enumerate()
        .map(|(i, r)| (&r.urn, i))
        .collect();
    for (i, r) in deletes.iter().enumerate() {
        for d in r.dependencies.iter().filter(|d| set.contains(d)) {
            g.add_edge(nodes[i], nodes[idx[d]], ());
        }
    }
    if let Ok(order) = petgraph::algo::toposort(&g, None) {
        let sorted: Vec<&ResourceState> = order.into_iter().map(|n| deletes[g[n]]).collect();
        *deletes = sorted;
    }
}

/// A resource replaced delete-first takes its replaced dependents with it:
/// they must go before it and so cannot be created first (as in Pulumi).
/// Replacements that must delete first because they keep their unique name,
/// while resources that stay (updated or unchanged) still use them: the
/// delete would fail on AWS's dependency check, or cut those resources off
/// after their dependents were already deleted. Refused at plan time.
fn delete_first_in_use(
    steps: &[Step],
    state: &StateView,
    kept: &[(Urn, Option<&'static [&'static str]>)],
) -> Vec<String> {
    let action: HashMap<&Urn, Action> = steps.iter().map(|s| (&s.urn, s.action)).collect();
    let mut errors = Vec::new();
    for (urn, fields) in kept {
        let staying: Vec<&str> = state
            .resources
            .iter()
            .filter(|r| r.dependencies.contains(urn))
            .filter(|r| !matches!(action.get(&r.urn), Some(Action::Replace | Action::Delete)))
            .map(|r| r.urn.as_str())
            .collect();
        if staying.is_empty() {
            continue;
        }
        match fields {
            Some(fields) => errors.push(format!(
                "{urn} must be replaced and keeps its {}, so the old one would have to be deleted first, \
                 but {} still use(s) it and would not be replaced; give it a new {} (the new one is then created first)",
                fields.join(" / "),
                staying.join(", "),
                fields.join(" / "),
            )),
            None => errors.push(format!(
                "{urn} must be replaced with delete_before_replace, so the old one would be deleted first, \
                 but {} still use(s) it and would not be replaced; drop delete_before_replace \
                 (the new one is then created first) or change {} so it is replaced too",
                staying.join(", "),
                staying.join(", "),
            )),
        }
    }
    errors
}

fn propagate_delete_before_replace(steps: &mut [Step], state: &StateView) {
    let mut dependents: HashMap<&Urn, Vec<&Urn>> = HashMap::new();
    for r in &state.resources {
        for d in &r.dependencies {
            dependents.entry(d).or_default().push(&r.urn);
        }
    }
    let idx: HashMap<Urn, usize> = steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.action == Action::Replace)
        .map(|(i, s)| (s.urn.clone(), i))
        .collect();
    let mut work: Vec<Urn> = steps
        .iter()
        .filter(|s| s.action == Action::Replace && s.delete_before_replace)
        .map(|s| s.urn.clone())
        .collect();
    let mut forced = Vec::new();
    while let Some(u) = work.pop() {
        for dep in dependents.get(&u).into_iter().flatten() {
            if let Some(&i) = idx.get(*dep) {
                if !steps[i].delete_before_replace && !forced.contains(&i) {
                    forced.push(i);
                    work.push((*dep).clone());
                }
            }
        }
    }
    for i in forced {
        steps[i].delete_before_replace = true;
    }
}

/// The resources a targeted plan may touch: the targets and what they depend
/// on; for a target that is only in state (a delete), what depends on it.
fn target_set(
    stack: &Stack,
    graph: &Graph,
    state: &StateView,
    opts: &PlanOptions,
) -> Result<Option<HashSet<Urn>>, PlanError> {
    if opts.targets.is_empty() {
        return Ok(None);
    }
    let idx: HashMap<&Urn, usize> = stack
        .resources()
        .iter()
        .enumerate()
        .map(|(i, d)| (&d.urn, i))
        .collect();
    let mut set = HashSet::new();
    for t in &opts.targets {
        match idx.get(t) {
            Some(&i) => {
                let mut work = vec![i];
                while let Some(j) = work.pop() {
                    if set.insert(stack.resources()[j].urn.clone()) {
                        work.extend(graph.dependencies(j));
                    }
                }
            }
            // A delete takes what depends on it along (as Terraform's
            // destroy targeting does): it cannot go from under them.
            None if state.resources.iter().any(|r| &r.urn == t) => {
                let mut work = vec![t.clone()];
                while let Some(u) = work.pop() {
                    if set.insert(u.clone()) {
                        work.extend(
                            state
                                .resources
                                .iter()
                                .filter(|r| r.dependencies.contains(&u))
                                .map(|r| r.urn.clone()),
                        );
                    }
                }
            }
            None => return Err(PlanError::UnknownTarget(t.clone())),
        }
    }
    Ok(Some(set))
}

/// One provider call in the schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Op {
    /// Index of the step in `Plan::steps`.
    pub step: usize,
    pub kind: OpKind,
    /// Ops (indices into the schedule) that must finish first.
    pub deps: Vec<usize>,
}

/// Expands a plan into provider operations and their ordering:
/// creates and updates after what they reference; a create-before-delete
/// replacement deletes its old half after every dependent has moved to the new
/// one; deletes run after the deletes of everything that depended on them.
pub fn schedule(plan: &Plan) -> Vec<Op> {
    let mut ops: Vec<Op> = Vec::with_capacity(plan.steps.len());
    let mut make: HashMap<&Urn, usize> = HashMap::new(); // op that makes the new version
    let mut kill: HashMap<&Urn, usize> = HashMap::new(); // op that removes the old version
    for (i, s) in plan.steps.iter().enumerate() {
        let mut push = |kind| {
            ops.push(Op {
                step: i,
                kind,
                deps: Vec::new(),
            });
            ops.len() - 1
        };
        match s.action {
            // Recorded by the executor before any op, like a rename.
            Action::Same | Action::Read => {}
            Action::Create => {
                make.insert(&s.urn, push(OpKind::Create));
            }
            Action::Update => {
                make.insert(&s.urn, push(OpKind::Update));
            }
            Action::Replace => {
                let c = push(OpKind::CreateReplacement);
                let d = push(OpKind::DeleteReplaced);
                make.insert(&s.urn, c);
                kill.insert(&s.urn, d);
                let (first, then) = if s.delete_before_replace {
                    (d, c)
                } else {
                    (c, d)
                };
                ops[then].deps.push(first);
            }
            Action::Delete if s.condemned => {
                push(OpKind::DeleteReplaced);
            }
            Action::Delete => {
                kill.insert(&s.urn, push(OpKind::Delete));
            }
        }
    }
    let dbr_set: HashSet<&Urn> = plan
        .steps
        .iter()
        .filter(|s| s.action == Action::Replace && s.delete_before_replace)
        .map(|s| &s.urn)
        .collect();
    let dbr = |u: &Urn| dbr_set.contains(u);
    // A condemned old half goes after every resource that still used it has
    // moved (its make op) or gone (its kill op).
    let condemned: Vec<(usize, &Urn)> = plan
        .steps
        .iter()
        .enumerate()
        .filter(|(_, s)| s.condemned)
        .map(|(i, s)| (i, &s.urn))
        .collect();
    if !condemned.is_empty() {
        let cond_ops: Vec<(usize, &Urn)> = condemned
            .iter()
            .filter_map(|(st, u)| {
                ops.iter()
                    .position(|o| o.step == *st && o.kind == OpKind::DeleteReplaced)
                    .map(|o| (o, *u))
            })
            .collect();
        for s in plan.steps.iter().filter(|s| !s.condemned) {
            let uses = |u: &Urn| {
                s.old.as_ref().is_some_and(|o| o.dependencies.contains(u))
                    || s.new.as_ref().is_some_and(|n| n.dependencies().contains(u))
            };
            for &(c, u) in &cond_ops {
                if &s.urn == u || !uses(u) {
                    continue;
                }
                for m in [make.get(&s.urn), kill.get(&s.urn)].into_iter().flatten() {
                    ops[c].deps.push(*m);
                }
            }
        }
    }
    for s in &plan.steps {
        // New version after the new versions of what it references.
        if let (Some(&m), Some(new)) = (make.get(&s.urn), &s.new) {
            for dep in new.dependencies() {
                if let Some(&dm) = make.get(&dep) {
                    ops[m].deps.push(dm);
                }
            }
        }
        // Old version removed after its old dependents are removed or moved.
        let Some(old) = &s.old else { continue };
        if s.condemned {
            continue;
        }
        for dep in &old.dependencies {
            let Some(&dk) = kill.get(dep) else { continue };
            if let Some(&k) = kill.get(&s.urn) {
                ops[dk].deps.push(k);
            }
            if !dbr(dep) && s.action != Action::Delete {
                if let Some(&m) = make.get(&s.urn) {
                    if !(s.action == Action::Replace && s.delete_before_replace) {
                        ops[dk].deps.push(m);
                    }
                }
            }
        }
    }
    for op in &mut ops {
        op.deps.sort_unstable();
        op.deps.dedup();
    }
    ops
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn symbols_and_counts_line() {
        assert_eq!(Action::Replace.symbol(true), "-/+");
        assert_eq!(Action::Replace.symbol(false), "+/-");
        let c = Counts {
            create: 3,
            update: 1,
            replace: 0,
            delete: 0,
            read: 0,
        };
        assert_eq!(
            c.to_string(),
            "Plan: 3 to create, 1 to update, 0 to replace, 0 to delete."
        );
        let c = Counts { read: 2, ..c };
        assert_eq!(
            c.to_string(),
            "Plan: 3 to create, 1 to update, 0 to replace, 0 to delete. 2 lookups read."
        );
    }

    /// A replacement that keeps a unique name deletes first; one that renames
    /// creates the new resource first; one still used by a resource that
    /// stays is refused.
    #[test]
    fn keeping_a_unique_name_makes_a_replacement_delete_first() {
        use crate::provider::aws::ec2::launch_template::LaunchTemplate;
        use crate::provider::aws::ec2::security_group::SecurityGroup;
        use crate::provider::aws::{self, Aws, AwsSettings};
        use std::sync::Arc;

        let mut registry = Registry::builtin();
        aws::register(&mut registry, Arc::new(Aws::new(AwsSettings::default())));
        let declare = |name: &str, description: &str, with_user: bool| {
            let mut st = Stack::new("dev").unwrap();
            let mut root = st.root();
            let mut g = SecurityGroup::new(name, "vpc-1");
            g.description = description.into();
            let g = root.resource("sg", g).unwrap();
            if with_user {
                let mut lt = LaunchTemplate::new("app-lt", "ami-1", "t3.micro");
                lt.vpc_security_group_ids = vec![g.id().into()];
                root.resource("lt", lt).unwrap();
            }
            st
        };
        let state_of = |with_user: bool| {
            let old = declare("app", "old", with_user);
            let recorded = |i: usize, id: &str, inputs: Value, deps: Vec<Urn>| ResourceState {
                urn: old.resources()[i].urn.clone(),
                type_name: old.resources()[i].type_name.clone(),
                id: id.into(),
                inputs,
                outputs: serde_json::json!({"id": id}),
                dependencies: deps,
                parent: String::new(),
                options: Default::default(),
                tainted: false,
            };
            let mut resources = vec![recorded(
                0,
                "sg-1",
                old.resources()[0].inputs.clone(),
                vec![],
            )];
            if with_user {
                let mut lt = old.resources()[1].inputs.clone();
                lt["vpc_security_group_ids"] = serde_json::json!(["sg-1"]);
                resources.push(recorded(
                    1,
                    "lt-1",
                    lt,
                    vec![old.resources()[0].urn.clone()],
                ));
            }
            StateView {
                resources,
                ..Default::default()
            }
        };
        let state = state_of(false);
        for (name, delete_first) in [("app", true), ("app-2", false)] {
            let p = plan(
                &declare(name, "new", false),
                &state,
                &registry,
                &PlanOptions::default(),
            )
            .unwrap();
            assert_eq!(p.steps[0].action, Action::Replace, "{name}");
            assert_eq!(p.steps[0].delete_before_replace, delete_first, "{name}");
        }
        // The launch template is only updated (new group id): the old group
        // cannot be deleted under it.
        let e = plan(
            &declare("app", "new", true),
            &state_of(true),
            &registry,
            &PlanOptions::default(),
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains(
                "dev::::aws:ec2/SecurityGroup::sg must be replaced and keeps its name / vpc_id"
            ),
            "{e}"
        );
        assert!(
            e.contains("dev::::aws:ec2/LaunchTemplate::lt still use(s) it"),
            "{e}"
        );
        // Renamed, the new group is created first and the template moves to it.
        let p = plan(
            &declare("app-2", "new", true),
            &state_of(true),
            &registry,
            &PlanOptions::default(),
        )
        .unwrap();
        assert!(
            !p.steps.iter().any(|s| s.delete_before_replace),
            "{:?}",
            p.steps
        );
    }
}
