//! Text and JSON renderings of plans and reports. Pure: returns strings and
//! values; printing is the CLI's job. Secrets always render as `(sensitive)`.

use serde_json::{json, Value};

use crate::drift::{Changed, FieldChange, Refreshed, Report};
use crate::exec::{ApplyReport, OpReport, OpStatus};
use crate::plan::{Action, Plan, Step};
use crate::value::{self, SENSITIVE_TEXT};

#[derive(Debug, Clone, Copy, Default)]
pub struct Style {
    pub color: bool,
    /// Show every changed field's old and new value.
    pub diff: bool,
}

fn paint(on: bool, code: &str, s: &str) -> String {
    if on {
        format!("\x1b[{code}m{s}\x1b[0m")
    } else {
        s.to_string()
    }
}

fn color_of(a: Action) -> &'static str {
    match a {
        Action::Create => "32",
        Action::Update => "33",
        Action::Replace => "35",
        Action::Delete => "31",
        Action::Read => "36",
        Action::Same => "0",
    }
}

fn short(v: &Value) -> String {
    match value::redact(v) {
        Value::String(s) if s == SENSITIVE_TEXT || s == value::UNKNOWN_TEXT => s,
        other => other.to_string(),
    }
}

fn field_lines(step: &Step, style: Style, out: &mut String) {
    let new = step.planned_inputs.as_ref();
    let old = step.old.as_ref().map(|o| &o.inputs);
    let null = Value::Null;
    match step.action {
        Action::Create if style.diff => {
            if let Some(Value::Object(m)) = new {
                for (k, v) in m {
                    out.push_str(&format!("      + {k} = {}\n", short(v)));
                }
            }
        }
        Action::Update | Action::Replace => {
            for f in &step.changed {
                let forces = if step.replace_fields.contains(f) {
                    paint(style.color, "35", " # forces replacement")
                } else {
                    String::new()
                };
                if style.diff || step.action == Action::Replace || step.changed.len() <= 8 {
                    let o = old.and_then(|o| o.get(f)).unwrap_or(&null);
                    let n = new.and_then(|n| n.get(f)).unwrap_or(&null);
                    out.push_str(&format!(
                        "      ~ {f}: {} => {}{forces}\n",
                        short(o),
                        short(n)
                    ));
                }
            }
        }
        Action::Read => {
            let before = step.old.as_ref().map(|o| &o.outputs);
            let after = step.looked_up.as_ref().map(|c| &c.outputs);
            for f in &step.changed {
                let o = before.and_then(|o| o.get(f)).unwrap_or(&null);
                let n = after.and_then(|n| n.get(f)).unwrap_or(&null);
                if o.is_null() {
                    out.push_str(&format!("      {f} = {}\n", short(n)));
                } else {
                    out.push_str(&format!("      ~ {f}: {} => {}\n", short(o), short(n)));
                }
            }
        }
        Action::Delete if style.diff => {
            if let Some(Value::Object(m)) = old {
                for (k, v) in m {
                    out.push_str(&format!("      - {k} = {}\n", short(v)));
                }
            }
        }
        _ => {}
    }
}

fn field_change_lines(fields: &[FieldChange], out: &mut String) {
    for f in fields {
        let why = f
            .reason
            .as_deref()
            .map(|r| format!("  ({r})"))
            .unwrap_or_default();
        out.push_str(&format!(
            "      ~ {}: {} => {}{why}\n",
            f.path,
            short(&f.recorded),
            short(&f.live)
        ));
    }
}

/// What `--refresh` found changed outside morket-stack (Terraform's
/// "Objects have changed outside of Terraform").
fn refreshed_text(refreshed: &[Refreshed], style: Style) -> String {
    let mut out = format!(
        "Changed outside morket-stack since the last apply ({}); recorded before the plan:\n",
        refreshed.len()
    );
    for r in refreshed {
        match r {
            Refreshed::Changed { row, fields } => {
                out.push_str(&format!(
                    "  {} {}\n",
                    paint(style.color, "33", "~"),
                    row.urn
                ));
                field_change_lines(fields, &mut out);
            }
            Refreshed::Gone { urn, id, .. } => out.push_str(&format!(
                "  {} {urn} ({id}) was deleted\n",
                paint(style.color, "31", "-")
            )),
        }
    }
    out.push('\n');
    out
}

/// The drift report as text, ending with what to do.
pub fn drift_text(r: &Report, style: Style) -> String {
    let mut out = String::new();
    let section = |title: &str, list: &[Changed], mark: &str, code: &str, out: &mut String| {
        if list.is_empty() {
            return;
        }
        out.push_str(&format!("{title}:\n"));
        for c in list {
            out.push_str(&format!(
                "  {} {} ({})\n",
                paint(style.color, code, mark),
                c.urn,
                c.id
            ));
            field_change_lines(&c.fields, out);
        }
        out.push('\n');
    };
    section(
        "Modified outside morket-stack",
        &r.modified,
        "~",
        "33",
        &mut out,
    );
    if !r.deleted.is_empty() {
        out.push_str("Deleted outside morket-stack:\n");
        for g in &r.deleted {
            out.push_str(&format!(
                "  {} {} ({})\n",
                paint(style.color, "31", "-"),
                g.urn,
                g.id
            ));
        }
        out.push('\n');
    }
    if !r.unmanaged.is_empty() {
        out.push_str(&format!(
            "Not in state but tagged morket:stack={}:\n",
            r.stack
        ));
        for u in &r.unmanaged {
            let urn = u
                .urn_tag
                .as_deref()
                .map(|t| format!(" (morket:urn {t})"))
                .unwrap_or_default();
            out.push_str(&format!(
                "  {} {}{urn}\n",
                paint(style.color, "35", "?"),
                u.arn
            ));
        }
        out.push('\n');
    }
    section(
        "Informational (nothing to undo)",
        &r.informational,
        "i",
        "36",
        &mut out,
    );
    if !r.pending.is_empty() {
        out.push_str("Interrupted operations (the next preview or up settles them):\n");
        for p in &r.pending {
            out.push_str(&format!("  ! {} {}\n", p.kind, p.urn));
        }
        out.push('\n');
    }
    let s = &r.summary;
    if r.drifted {
        out.push_str(&format!(
            "Drift in stack {}: {} modified, {} deleted, {} unmanaged of {} resources.\n\
             `morket-stack up {} --refresh` puts the declared values back; `morket-stack refresh {}` records the live ones.\n",
            r.stack, s.modified, s.deleted, s.unmanaged, s.resources, r.stack, r.stack
        ));
    } else {
        out.push_str(&format!(
            "No drift in stack {} ({} resources read).\n",
            r.stack, s.resources
        ));
    }
    out
}

/// The steps a plan shows: changes, and renames (which change no
/// infrastructure, but the user must see them).
fn shown(plan: &Plan) -> impl Iterator<Item = &Step> {
    plan.steps
        .iter()
        .filter(|s| s.action != Action::Same || s.renamed_from.is_some())
}

/// The plan as Terraform-like text, ending with the summary line.
pub fn plan_text(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    if !plan.pending.is_empty() {
        out.push_str(&format!(
            "{} pending operation(s) from an interrupted run will be resolved first:\n",
            plan.pending.len()
        ));
        for p in &plan.pending {
            out.push_str(&format!("  ! {} {}\n", p.kind.as_str(), p.urn));
        }
        out.push('\n');
    }
    if !plan.refreshed.is_empty() {
        out.push_str(&refreshed_text(&plan.refreshed, style));
    }
    let changes: Vec<&Step> = shown(plan).collect();
    if changes.is_empty() {
        out.push_str(&format!(
            "No changes. Stack {} is up to date ({} resources).\n",
            plan.stack, plan.unchanged
        ));
        return out;
    }
    out.push_str(&format!("Stack {}:\n\n", plan.stack));
    for s in changes {
        let sym = match s.action {
            Action::Same => ">",
            a => a.symbol(s.delete_before_replace),
        };
        let mut label = match (s.action, s.condemned) {
            (Action::Delete, true) => " (old half of a replacement)".to_string(),
            (Action::Replace, _) if s.delete_before_replace => " (delete, then create)".into(),
            (Action::Replace, _) => " (create replacement, then delete)".into(),
            (Action::Read, _) => " (lookup, read while planning)".into(),
            _ => String::new(),
        };
        if s.old.as_ref().is_some_and(|o| o.tainted) && s.action == Action::Replace {
            label.push_str(" (tainted: a create failed part way and it could not be read back)");
        }
        if let Some(from) = &s.renamed_from {
            label.push_str(&format!(" (renamed from {from})"));
        }
        out.push_str(&format!(
            "  {} {}{}\n",
            paint(style.color, color_of(s.action), &format!("{sym:>3}")),
            s.urn,
            label
        ));
        field_lines(s, style, &mut out);
    }
    out.push('\n');
    out.push_str(&plan.counts().to_string());
    out.push('\n');
    out
}

/// What GitHub keeps of a comment (65,536 characters), less room for the
/// rest of the comment: the details block is cut to fit.
const MARKDOWN_DETAILS_MAX: usize = 60_000;

/// Text for a Markdown table cell: pipes escaped, code spans made safe.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('`', "'").replace('\n', " ")
}

/// The plan as Markdown for a pull-request comment: the summary line, a
/// table of the changes in plan order, and the text plan (with every
/// changed field, secrets redacted) folded in a details block.
pub fn plan_markdown(plan: &Plan) -> String {
    let mut out = format!("### morket-stack preview: `{}`\n\n", cell(&plan.stack));
    let changes: Vec<&Step> = shown(plan).collect();
    if !plan.pending.is_empty() {
        out.push_str(&format!(
            "> [!WARNING]\n> {} operation(s) of an interrupted run are settled first.\n\n",
            plan.pending.len()
        ));
    }
    if !plan.refreshed.is_empty() {
        out.push_str(&format!(
            "> [!NOTE]\n> {} resource(s) changed outside morket-stack (see the details).\n\n",
            plan.refreshed.len()
        ));
    }
    if changes.is_empty() {
        out.push_str(&format!(
            "**No changes.** The stack is up to date ({} resources).\n",
            plan.unchanged
        ));
        return out;
    }
    out.push_str(&format!("**{}**\n\n", plan.counts()));
    out.push_str("| | Resource | Type | Changed |\n|:-:|---|---|---|\n");
    for s in &changes {
        let sym = match s.action {
            Action::Same => ">",
            a => a.symbol(s.delete_before_replace),
        };
        let name = s.urn.as_str().rsplit("::").next().unwrap_or(s.urn.as_str());
        let mut changed: Vec<String> = s
            .changed
            .iter()
            .map(|f| {
                if s.replace_fields.contains(f) {
                    format!("{f} (forces replacement)")
                } else {
                    f.clone()
                }
            })
            .collect();
        if s.old.as_ref().is_some_and(|o| o.tainted) && s.action == Action::Replace {
            changed.push("tainted".into());
        }
        if let Some(from) = &s.renamed_from {
            changed.push(format!("renamed from {from}"));
        }
        out.push_str(&format!(
            "| `{sym}` | `{}` | {} | {} |\n",
            cell(name),
            cell(&s.type_name),
            cell(&changed.join(", "))
        ));
    }
    let mut text = plan_text(
        plan,
        Style {
            color: false,
            diff: true,
        },
    );
    // The table counts against the same limit.
    let budget = MARKDOWN_DETAILS_MAX.saturating_sub(out.len()).max(1_000);
    if text.len() > budget {
        let mut cut = budget;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str("\n… cut to fit a comment: run `morket-stack preview --diff` for the rest\n");
    }
    // A fence longer than any run of backticks in the text.
    let mut fence = "```".to_string();
    while text.contains(&fence) {
        fence.push('`');
    }
    out.push_str(&format!(
        "\n<details><summary>Plan details</summary>\n\n{fence}text\n{}{fence}\n\n</details>\n",
        text
    ));
    out
}

/// The plan as JSON for machines; secrets redacted.
pub fn plan_json(plan: &Plan) -> Value {
    let steps: Vec<Value> = shown(plan)
        .map(|s| {
            json!({
                "urn": s.urn,
                "type": s.type_name,
                "action": s.action,
                "renamed_from": s.renamed_from,
                "tainted": s.old.as_ref().is_some_and(|o| o.tainted),
                "delete_before_replace": s.delete_before_replace,
                "changed": s.changed,
                "replace_fields": s.replace_fields,
                "before": s.old.as_ref().map(|o| value::redact(&o.inputs)),
                "after": s.planned_inputs.as_ref().map(value::redact),
                "read": s.looked_up.as_ref().map(|c| value::redact(&c.outputs)),
            })
        })
        .collect();
    json!({
        "stack": plan.stack,
        "serial": plan.serial,
        "destroy": plan.destroy,
        "pending": plan.pending.iter().map(|p| json!({"urn": p.urn, "kind": p.kind})).collect::<Vec<_>>(),
        "changed_outside": plan.refreshed.iter().map(|r| match r {
            Refreshed::Changed { row, fields } => json!({"urn": row.urn, "kind": "modified", "fields": fields}),
            Refreshed::Gone { urn, id, .. } => json!({"urn": urn, "kind": "deleted", "id": id}),
        }).collect::<Vec<_>>(),
        "steps": steps,
        "unchanged": plan.unchanged,
        "summary": plan.counts(),
        "has_changes": plan.has_changes(),
    })
}

/// The end-of-apply summary: failures with their errors, then counts.
pub fn report_text(report: &ApplyReport, style: Style) -> String {
    let mut out = String::new();
    for o in &report.ops {
        match &o.status {
            OpStatus::Failed(e) => out.push_str(&format!(
                "  {} {} {}: {e}\n",
                paint(style.color, "31", "failed "),
                o.kind.as_str(),
                o.urn
            )),
            OpStatus::Skipped(b) => out.push_str(&format!(
                "  {} {} {} (depends on failed {b})\n",
                paint(style.color, "33", "skipped"),
                o.kind.as_str(),
                o.urn
            )),
            _ => {}
        }
    }
    let deferred: Vec<&OpReport> = report.ops.iter().filter(|o| o.deferred.is_some()).collect();
    if !deferred.is_empty() {
        out.push_str("Accepted, applied later by AWS (maintenance window or reboot):\n");
        for o in deferred {
            out.push_str(&format!(
                "  {} {}: {}\n",
                paint(style.color, "33", "pending"),
                o.urn,
                o.deferred
                    .as_ref()
                    .map(Value::to_string)
                    .unwrap_or_default()
            ));
        }
    }
    let t = report.tally();
    out.push_str(&format!(
        "{}: {} done, {} failed, {} skipped{} in {:.1}s.\n",
        if report.cancelled {
            "Cancelled"
        } else if report.is_success() {
            "Apply complete"
        } else {
            "Apply failed"
        },
        t.done,
        t.failed,
        t.skipped,
        if t.not_started > 0 {
            format!(", {} not started", t.not_started)
        } else {
            String::new()
        },
        report.elapsed.as_secs_f64()
    ));
    out
}
