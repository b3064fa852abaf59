//! Writes hcl-rs bodies in the layout `terraform fmt` (hclwrite) gives, so
//! an export is already formatted: two-space indent per open bracket line,
//! `=` aligned across consecutive one-line attributes (a line that opens a
//! multi-line value breaks the run, as in hclwrite's `formatCells`). hcl-rs's
//! own formatter does not align. Pure.

use hcl::expr::{Expression, ObjectKey, TemplateExpr, TraversalOperator};
use hcl::{Block, BlockLabel, Body, Structure};

use super::ExportError;

/// The text of a whole file: top-level structures separated by blank lines.
pub fn file(body: &Body) -> Result<String, ExportError> {
    let mut out = String::new();
    write_body(&mut out, body, 0, true)?;
    Ok(out)
}

fn indent(out: &mut String, level: usize) {
    for _ in 0..level {
        out.push_str("  ");
    }
}

/// Attributes in runs (aligned), blocks each after a blank line; at the top
/// level every block is separated by one.
fn write_body(out: &mut String, body: &Body, level: usize, top: bool) -> Result<(), ExportError> {
    let items: Vec<&Structure> = body.iter().collect();
    let mut i = 0;
    let mut first = true;
    while i < items.len() {
        match items[i] {
            Structure::Attribute(_) => {
                // A run of attributes; one-line ones align within sub-runs.
                let start = i;
                while i < items.len() && matches!(items[i], Structure::Attribute(_)) {
                    i += 1;
                }
                if !first && top {
                    out.push('\n');
                }
                let attrs: Vec<(&str, &Expression)> = items[start..i]
                    .iter()
                    .filter_map(|s| match s {
                        Structure::Attribute(a) => Some((a.key.as_str(), &a.expr)),
                        Structure::Block(_) => None,
                    })
                    .collect();
                write_assignments(out, &attrs, level, |k| k.to_string())?;
            }
            Structure::Block(b) => {
                if !first {
                    out.push('\n');
                }
                write_block(out, b, level)?;
                i += 1;
            }
        }
        first = false;
    }
    Ok(())
}

fn write_block(out: &mut String, b: &Block, level: usize) -> Result<(), ExportError> {
    indent(out, level);
    out.push_str(b.identifier.as_str());
    for l in &b.labels {
        out.push(' ');
        match l {
            BlockLabel::String(s) => out.push_str(&quote(s)),
            BlockLabel::Identifier(id) => out.push_str(id.as_str()),
        }
    }
    if b.body.iter().next().is_none() {
        out.push_str(" {}\n");
        return Ok(());
    }
    out.push_str(" {\n");
    write_body(out, &b.body, level + 1, false)?;
    indent(out, level);
    out.push_str("}\n");
    Ok(())
}

/// `key = value` lines; consecutive one-line values align their `=`.
fn write_assignments<K>(
    out: &mut String,
    items: &[(K, &Expression)],
    level: usize,
    key: impl Fn(&K) -> String,
) -> Result<(), ExportError> {
    let rendered: Vec<(String, String)> = items
        .iter()
        .map(|(k, v)| Ok((key(k), expr(v, level)?)))
        .collect::<Result<_, ExportError>>()?;
    let mut i = 0;
    while i < rendered.len() {
        let one_line = |j: usize| !rendered[j].1.contains('\n');
        if !one_line(i) {
            indent(out, level);
            out.push_str(&format!("{} = {}\n", rendered[i].0, rendered[i].1));
            i += 1;
            continue;
        }
        let start = i;
        while i < rendered.len() && one_line(i) {
            i += 1;
        }
        let width = rendered[start..i]
            .iter()
            .map(|(k, _)| k.chars().count())
            .max()
            .unwrap_or(0);
        for (k, v) in &rendered[start..i] {
            indent(out, level);
            out.push_str(&format!("{k:<width$} = {v}\n"));
        }
    }
    Ok(())
}

fn is_ident(s: &str) -> bool {
    let mut c = s.chars();
    matches!(c.next(), Some(ch) if ch.is_ascii_alphabetic() || ch == '_')
        && c.all(|ch| ch.is_ascii_alphanumeric() || ch == '_')
}

/// A quoted HCL string: escapes, and `${` / `%{` doubled so no template
/// sequence is read into plain text.
pub fn quote(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    let mut chars = s.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => q.push_str("\\\""),
            '\\' => q.push_str("\\\\"),
            '\n' => q.push_str("\\n"),
            '\r' => q.push_str("\\r"),
            '\t' => q.push_str("\\t"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                q.push(c);
                q.push(c);
            }
            c if c.is_control() => q.push_str(&format!("\\u{:04x}", c as u32)),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// One expression at `level` (the indent of the line it starts on).
fn expr(e: &Expression, level: usize) -> Result<String, ExportError> {
    Ok(match e {
        Expression::Null => "null".into(),
        Expression::Bool(b) => b.to_string(),
        Expression::Number(n) => n.to_string(),
        Expression::String(s) => quote(s),
        Expression::TemplateExpr(t) => match t.as_ref() {
            TemplateExpr::QuotedString(s) => format!("\"{s}\""),
            TemplateExpr::Heredoc(_) => return Err(ExportError::Hcl("heredoc".into())),
        },
        Expression::Variable(v) => v.as_str().to_string(),
        Expression::Traversal(t) => {
            let mut s = expr(&t.expr, level)?;
            for op in &t.operators {
                match op {
                    TraversalOperator::GetAttr(id) => {
                        s.push('.');
                        s.push_str(id.as_str());
                    }
                    TraversalOperator::FullSplat => s.push_str("[*]"),
                    TraversalOperator::Index(i) => {
                        s.push('[');
                        s.push_str(&expr(i, level)?);
                        s.push(']');
                    }
                    other => return Err(ExportError::Hcl(format!("{other:?}"))),
                }
            }
            s
        }
        Expression::FuncCall(f) => {
            let args = f
                .args
                .iter()
                .map(|a| expr(a, level))
                .collect::<Result<Vec<_>, _>>()?;
            format!("{}({})", f.name, args.join(", "))
        }
        Expression::Array(items) => {
            let parts = items
                .iter()
                .map(|a| expr(a, level + 1))
                .collect::<Result<Vec<_>, _>>()?;
            if parts.is_empty() {
                "[]".into()
            } else if parts.iter().all(|p| !p.contains('\n')) && !items.iter().any(is_object) {
                format!("[{}]", parts.join(", "))
            } else {
                let mut s = String::from("[\n");
                for p in parts {
                    indent(&mut s, level + 1);
                    s.push_str(&p);
                    s.push_str(",\n");
                }
                indent(&mut s, level);
                s.push(']');
                s
            }
        }
        Expression::Object(o) => {
            if o.is_empty() {
                return Ok("{}".into());
            }
            let items: Vec<(&ObjectKey, &Expression)> = o.iter().collect();
            let mut s = String::from("{\n");
            write_assignments(&mut s, &items, level + 1, |k| match k {
                ObjectKey::Identifier(id) => id.as_str().to_string(),
                ObjectKey::Expression(Expression::String(k)) if is_ident(k) => k.clone(),
                ObjectKey::Expression(Expression::String(k)) => quote(k),
                ObjectKey::Expression(other) => format!("({other:?})"),
                other => format!("({other:?})"),
            })?;
            indent(&mut s, level);
            s.push('}');
            s
        }
        Expression::ForExpr(f) if f.key_var.is_none() && f.key_expr.is_none() => {
            let mut t = format!(
                "[for {} in {} : {}",
                f.value_var.as_str(),
                expr(&f.collection_expr, level)?,
                expr(&f.value_expr, level)?
            );
            if let Some(c) = &f.cond_expr {
                t.push_str(" if ");
                t.push_str(&expr(c, level)?);
            }
            t.push(']');
            t
        }
        Expression::Operation(op) => match op.as_ref() {
            hcl::expr::Operation::Binary(b) => format!(
                "{} {} {}",
                expr(&b.lhs_expr, level)?,
                b.operator,
                expr(&b.rhs_expr, level)?
            ),
            other => return Err(ExportError::Hcl(format!("{other:?}"))),
        },
        Expression::Conditional(c) => format!(
            "{} ? {} : {}",
            expr(&c.cond_expr, level)?,
            expr(&c.true_expr, level)?,
            expr(&c.false_expr, level)?
        ),
        other => return Err(ExportError::Hcl(format!("{other:?}"))),
    })
}

/// An expression that must fit on one line (inside a template).
pub fn inline(e: &Expression) -> Result<String, ExportError> {
    let s = expr(e, 0)?;
    if s.contains('\n') {
        return Err(ExportError::Hcl(format!(
            "multi-line value in a template: {s}"
        )));
    }
    Ok(s)
}

fn is_object(e: &Expression) -> bool {
    matches!(e, Expression::Object(o) if !o.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcl::expr::{FuncCall, Traversal, Variable};
    use hcl::{Attribute, Identifier, Object};

    fn traversal(parts: &[&str]) -> Expression {
        Expression::Traversal(Box::new(Traversal::new(
            Variable::unchecked(parts[0]),
            parts[1..]
                .iter()
                .map(|p| TraversalOperator::GetAttr(Identifier::unchecked(*p))),
        )))
    }

    #[test]
    fn layout_is_hclwrites() {
        let mut tags = Object::new();
        tags.insert(ObjectKey::from("Name"), Expression::from("x"));
        tags.insert(ObjectKey::from("morket:urn"), Expression::from("a${b}"));
        let mut inner = Object::new();
        inner.insert(ObjectKey::from("a"), Expression::from(1));
        inner.insert(
            ObjectKey::from("bbb"),
            Expression::Array(vec![1.into(), 2.into()]),
        );
        let body = Body::builder()
            .add_block(
                Block::builder("resource")
                    .add_label("aws_vpc")
                    .add_label("this")
                    .add_attribute(("cidr_block", "10.0.0.0/16"))
                    .add_attribute(("enable_dns_hostnames", true))
                    .add_attribute(Attribute::new("tags", Expression::Object(tags)))
                    .add_attribute(Attribute::new(
                        "x",
                        Expression::FuncCall(Box::new(
                            FuncCall::builder("jsonencode")
                                .arg(Expression::Array(vec![Expression::Object(inner)]))
                                .build(),
                        )),
                    ))
                    .add_attribute(Attribute::new(
                        "y",
                        Expression::Array(vec![
                            traversal(&["aws_subnet", "a", "id"]),
                            traversal(&["aws_subnet", "b", "id"]),
                        ]),
                    ))
                    .add_block(
                        Block::builder("lifecycle")
                            .add_attribute(Attribute::new(
                                "ignore_changes",
                                Expression::Array(vec![Expression::Variable(Variable::unchecked(
                                    "secret_string",
                                ))]),
                            ))
                            .build(),
                    )
                    .build(),
            )
            .build();
        // What `terraform fmt` (hcl-tools' format) gives for the same text.
        let want = r#"resource "aws_vpc" "this" {
  cidr_block           = "10.0.0.0/16"
  enable_dns_hostnames = true
  tags = {
    Name         = "x"
    "morket:urn" = "a$${b}"
  }
  x = jsonencode([
    {
      a   = 1
      bbb = [1, 2]
    },
  ])
  y = [aws_subnet.a.id, aws_subnet.b.id]

  lifecycle {
    ignore_changes = [secret_string]
  }
}
"#;
        assert_eq!(file(&body).unwrap(), want);
        // And hcl-rs reads it back.
        let parsed: Body = hcl::parse(want).unwrap();
        assert_eq!(parsed.blocks().count(), 1);
    }
}
