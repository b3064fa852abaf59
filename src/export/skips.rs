//! Inline `checkov:skip` comments: the findings a project has judged not
//! to apply, each with its reason, written into the blocks they name so
//! the reason sits beside the code it excuses. Pure text in, text out.

use serde::Deserialize;

use super::{ExportError, Files};

/// One judged finding: a checkov check, the blocks it does not apply to,
/// and why.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Skip {
    /// `CKV_AWS_158`, `CKV2_AWS_5`.
    pub check: String,
    /// `TYPE` (every resource of that type) or `MODULE.TYPE.NAME`; a data
    /// source is `data.TYPE` or `MODULE.data.TYPE.NAME`.
    pub resources: Vec<String>,
    pub reason: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkipFile {
    skip: Vec<Skip>,
}

/// Reads the TOML list (`[[skip]] check, resources, reason`).
pub fn parse_skips(text: &str) -> Result<Vec<Skip>, ExportError> {
    let f: SkipFile =
        toml::from_str(text).map_err(|e| ExportError::Invalid(format!("checkov skips: {e}")))?;
    for s in &f.skip {
        let id_ok = s.check.starts_with("CKV")
            && s.check
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if !id_ok {
            return Err(ExportError::Invalid(format!(
                "checkov skips: check {:?} is not a checkov id (CKV_AWS_1, CKV2_AWS_5)",
                s.check
            )));
        }
        if s.reason.trim().is_empty() || s.reason.contains('\n') {
            return Err(ExportError::Invalid(format!(
                "checkov skips: {} needs a one-line reason",
                s.check
            )));
        }
        if s.resources.is_empty() {
            return Err(ExportError::Invalid(format!(
                "checkov skips: {} names no resource",
                s.check
            )));
        }
    }
    Ok(f.skip)
}

/// `files` with each skip written as `# checkov:skip=ID:reason` first in
/// the module blocks it names. A selector that names no block is an
/// error: a skip must not outlive what it excused.
pub fn annotate(files: &Files, skips: &[Skip]) -> Result<Files, ExportError> {
    let mut used = vec![false; skips.iter().map(|s| s.resources.len()).sum()];
    let mut out = Files::new();
    for (path, text) in files {
        let module = path
            .strip_prefix("modules/")
            .and_then(|p| p.strip_suffix("/main.tf"));
        let Some(module) = module else {
            out.insert(path.clone(), text.clone());
            continue;
        };
        let mut new = String::with_capacity(text.len());
        for line in text.split_inclusive('\n') {
            let Some((data, ty, name, empty)) = header(line) else {
                new.push_str(line);
                continue;
            };
            let mut comments = Vec::new();
            let mut i = 0;
            for s in skips {
                for sel in &s.resources {
                    let kind = if data { "data." } else { "" };
                    if *sel == format!("{kind}{ty}")
                        || *sel == format!("{module}.{kind}{ty}.{name}")
                    {
                        used[i] = true;
                        comments.push(format!("  # checkov:skip={}:{}\n", s.check, s.reason));
                    }
                    i += 1;
                }
            }
            if comments.is_empty() {
                new.push_str(line);
                continue;
            }
            let open = line.trim_end().trim_end_matches('}').trim_end();
            new.push_str(open);
            new.push('\n');
            comments.iter().for_each(|c| new.push_str(c));
            if empty {
                new.push_str("}\n");
            }
        }
        out.insert(path.clone(), new);
    }
    let mut i = 0;
    for s in skips {
        for sel in &s.resources {
            if !used[i] {
                return Err(ExportError::Invalid(format!(
                    "checkov skip {} names {sel}, which the export does not write",
                    s.check
                )));
            }
            i += 1;
        }
    }
    Ok(out)
}

/// `resource "T" "N" {` or `data "T" "N" {}` at the start of a line (the
/// export writes no heredocs, so such a line opens a top-level block):
/// (whether it is data, T, N, whether it is empty).
fn header(line: &str) -> Option<(bool, &str, &str, bool)> {
    let (data, rest) = match line.strip_prefix("resource \"") {
        Some(r) => (false, r),
        None => (true, line.strip_prefix("data \"")?),
    };
    let (ty, rest) = rest.split_once("\" \"")?;
    let (name, rest) = rest.split_once('"')?;
    match rest.trim() {
        "{" => Some((data, ty, name, false)),
        "{}" => Some((data, ty, name, true)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skips_land_in_the_blocks_they_name_and_stale_ones_fail() {
        let skips = parse_skips(
            r#"
[[skip]]
check = "CKV_AWS_158"
resources = ["aws_cloudwatch_log_group"]
reason = "service-managed keys"

[[skip]]
check = "CKV2_AWS_5"
resources = ["net.aws_security_group.sg"]
reason = "attached in module alb"

[[skip]]
check = "CKV_AWS_394"
resources = ["net.data.aws_x.y"]
reason = "asserts only"
"#,
        )
        .unwrap();
        let files = Files::from([
            (
                "modules/net/main.tf".to_string(),
                "resource \"aws_security_group\" \"sg\" {\n  name = \"a\"\n}\n\nresource \"aws_security_group\" \"other\" {\n  name = \"b\"\n}\n\ndata \"aws_x\" \"y\" {}\n".to_string(),
            ),
            (
                "modules/obs/main.tf".to_string(),
                "resource \"aws_cloudwatch_log_group\" \"g\" {}\n".to_string(),
            ),
        ]);
        let out = annotate(&files, &skips).unwrap();
        assert_eq!(
            out["modules/net/main.tf"],
            "resource \"aws_security_group\" \"sg\" {\n  # checkov:skip=CKV2_AWS_5:attached in module alb\n  name = \"a\"\n}\n\nresource \"aws_security_group\" \"other\" {\n  name = \"b\"\n}\n\ndata \"aws_x\" \"y\" {\n  # checkov:skip=CKV_AWS_394:asserts only\n}\n"
        );
        // A resource type's selector does not reach a data source of it.
        let by_type = parse_skips(
            "[[skip]]\ncheck = \"CKV_AWS_1\"\nresources = [\"aws_x\"]\nreason = \"r\"\n",
        )
        .unwrap();
        assert!(annotate(&files, &by_type).is_err());
        assert_eq!(
            out["modules/obs/main.tf"],
            "resource \"aws_cloudwatch_log_group\" \"g\" {\n  # checkov:skip=CKV_AWS_158:service-managed keys\n}\n"
        );
        let stale = parse_skips(
            "[[skip]]\ncheck = \"CKV_AWS_1\"\nresources = [\"net.aws_vpc.gone\"]\nreason = \"r\"\n",
        )
        .unwrap();
        let e = annotate(&files, &stale).unwrap_err().to_string();
        assert!(e.contains("net.aws_vpc.gone"), "{e}");
        for bad in [
            "[[skip]]\ncheck = \"nope\"\nresources = [\"a\"]\nreason = \"r\"\n",
            "[[skip]]\ncheck = \"CKV_AWS_1\"\nresources = [\"a\"]\nreason = \" \"\n",
            "[[skip]]\ncheck = \"CKV_AWS_1\"\nresources = []\nreason = \"r\"\n",
        ] {
            assert!(parse_skips(bad).is_err(), "{bad}");
        }
    }
}
