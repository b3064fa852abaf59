//! Morket stack tests (see morket_stack.rs): the edge component (R10:
//! frontend bucket, CloudFront, certificate, exports bucket, outputs) and
//! the ClickHouse backup (R6.5), on the plans of both environments.

#[allow(unused_imports)]
use super::*;

use serde_json::json;

const ENVS: [(&str, &str); 2] = [
    ("staging", "staging.morket.io"),
    ("production", "app.morket.io"),
];

fn edge<'a>(plan: &'a Plan, suffix: &str) -> &'a Value {
    declared(plan, &format!("edge::{suffix}"))
}

/// Whether the step whose URN ends with `suffix` is protected.
fn protected(plan: &Plan, suffix: &str) -> bool {
    plan.steps
        .iter()
        .find(|s| s.urn.as_str().ends_with(suffix))
        .unwrap_or_else(|| panic!("no step ending in {suffix}"))
        .new
        .as_ref()
        .unwrap()
        .options
        .protect
}

fn assert_private(b: &Value, name: &str, env: &str) {
    assert_eq!(b["bucket"], name, "{env}");
    assert_eq!(b["versioning"], "Enabled", "{env}: {name}");
    assert_eq!(
        b["server_side_encryption"]["sse_algorithm"], "AES256",
        "{env}: {name}"
    );
    assert_eq!(
        b["public_access_block"],
        json!({
            "block_public_acls": true,
            "block_public_policy": true,
            "ignore_public_acls": true,
            "restrict_public_buckets": true,
        }),
        "{env}: {name}"
    );
    assert_eq!(
        b["object_ownership"], "BucketOwnerEnforced",
        "{env}: {name}"
    );
    // Staging is torn down with its objects; production keeps them.
    assert_eq!(b["force_destroy"], env == "staging", "{env}: {name}");
    // The policy is a resource of its own (it names the distribution).
    assert!(b.get("policy").is_none(), "{env}: {name}");
}

#[test]
fn r10_1_and_r10_6_buckets_are_private_versioned_encrypted() {
    for (env, _) in ENVS {
        let plan = preview(&load(env));
        let frontend = edge(&plan, "aws:s3/Bucket::frontend");
        assert_private(frontend, &format!("morket-{env}-frontend"), env);
        let rules = frontend["lifecycle_rules"].as_array().unwrap();
        assert_eq!(rules.len(), 1, "{env}");
        assert_eq!(rules[0]["enabled"], true);
        assert_eq!(rules[0]["noncurrent_version_expiration_days"], 30);
        assert!(rules[0].get("expiration_days").is_none(), "{env}");

        let exports = edge(&plan, "aws:s3/Bucket::exports");
        assert_private(exports, &format!("morket-{env}-exports"), env);
        // R10.6: Glacier after 90 days, gone after 365.
        let rules = exports["lifecycle_rules"].as_array().unwrap();
        assert_eq!(rules.len(), 1, "{env}");
        let r = &rules[0];
        assert_eq!(r["enabled"], true);
        assert_eq!(r["prefix"], "", "the whole bucket");
        assert_eq!(
            r["transitions"],
            json!([{"days": 90, "storage_class": "GLACIER"}])
        );
        assert_eq!(r["expiration_days"], 365);
        assert_eq!(r["noncurrent_version_expiration_days"], 30);
        assert_eq!(r["abort_incomplete_multipart_upload_days"], 7);

        // The buckets hold data: protected in production only.
        for b in ["frontend", "exports"] {
            assert_eq!(
                protected(&plan, &format!("edge::aws:s3/Bucket::{b}")),
                env == "production",
                "{env}: {b}"
            );
        }
        assert!(!protected(
            &plan,
            "edge::aws:cloudfront/Distribution::distribution"
        ));
    }
}

#[test]
fn r10_2_cloudfront_reads_the_bucket_through_an_oac_only() {
    for (env, _) in ENVS {
        let plan = preview(&load(env));
        let oac = edge(&plan, "aws:cloudfront/OriginAccessControl::oac");
        assert_eq!(oac["name"], format!("morket-{env}-frontend"));
        assert_eq!(oac["origin_access_control_origin_type"], "s3");
        assert_eq!(oac["signing_behavior"], "always");
        assert_eq!(oac["signing_protocol"], "sigv4");

        let d = edge(&plan, "aws:cloudfront/Distribution::distribution");
        let origins = d["origins"].as_array().unwrap();
        assert_eq!(origins.len(), 1, "{env}");
        let o = &origins[0];
        assert_eq!(
            joined(&o["domain_name"]),
            "<ref:frontend.bucket_regional_domain_name>"
        );
        assert_eq!(joined(&o["origin_access_control_id"]), "<ref:oac.id>");
        assert!(o.get("custom_origin_config").is_none(), "an S3 origin");
        for b in std::iter::once(&d["default_cache_behavior"])
            .chain(d["ordered_cache_behaviors"].as_array().unwrap())
        {
            assert_eq!(b["target_origin_id"], o["origin_id"], "{env}");
        }

        // The bucket policy: the CloudFront service, GetObject on the
        // objects, only for this distribution.
        let p = edge(&plan, "aws:s3/BucketPolicy::frontend-policy");
        assert_eq!(joined(&p["bucket"]), "<ref:frontend.bucket>");
        let doc: Value = serde_json::from_str(&joined(&p["policy"])).unwrap();
        let st = doc["Statement"].as_array().unwrap();
        assert_eq!(st.len(), 1, "{env}: {doc}");
        assert_eq!(st[0]["Effect"], "Allow");
        assert_eq!(
            st[0]["Principal"],
            json!({"Service": "cloudfront.amazonaws.com"})
        );
        assert_eq!(st[0]["Action"], "s3:GetObject");
        assert_eq!(st[0]["Resource"], "<ref:frontend.arn>/*");
        assert_eq!(
            st[0]["Condition"],
            json!({"StringEquals": {"AWS:SourceArn": "<ref:distribution.arn>"}})
        );
    }
}

#[test]
fn r10_3_us_east_1_certificate_and_https_only_viewers() {
    for (env, domain) in ENVS {
        let plan = preview(&load(env));
        let cert = edge(&plan, "aws:acm/Certificate::certificate");
        assert_eq!(cert["domain_name"], domain);
        assert_eq!(cert["validation_method"], "DNS");
        assert_eq!(cert["region"], "us-east-1", "CloudFront's region");

        // Validated by a record in the zone looked up by the dns component.
        let rec = edge(
            &plan,
            &format!("aws:route53/Record::certificate-validation-{domain}"),
        );
        assert_eq!(joined(&rec["zone_id"]), "<ref:zone.zone_id>");
        assert_eq!(rec["type"], "CNAME");
        assert_eq!(
            joined(&rec["name"]),
            format!("<ref:certificate.validation_record_name:{domain}>")
        );
        let v = edge(
            &plan,
            "aws:acm/CertificateValidation::certificate-validation",
        );
        assert_eq!(joined(&v["certificate_arn"]), "<ref:certificate.arn>");
        assert_eq!(v["region"], "us-east-1");
        assert_eq!(
            joined(&v["validation_record_fqdns"][0]),
            format!("<ref:certificate-validation-{domain}.fqdn>")
        );

        let d = edge(&plan, "aws:cloudfront/Distribution::distribution");
        assert_eq!(d["aliases"], json!([domain]));
        let vc = &d["viewer_certificate"];
        assert_eq!(vc["cloudfront_default_certificate"], false);
        // From the validation: the distribution waits for the issue.
        assert_eq!(
            joined(&vc["acm_certificate_arn"]),
            "<ref:certificate-validation.certificate_arn>"
        );
        assert_eq!(vc["ssl_support_method"], "sni-only");
        assert_eq!(vc["minimum_protocol_version"], "TLSv1.2_2021");
        for b in std::iter::once(&d["default_cache_behavior"])
            .chain(d["ordered_cache_behaviors"].as_array().unwrap())
        {
            assert_eq!(b["viewer_protocol_policy"], "https-only", "{env}: {b}");
        }

        // The domain points at the distribution, over IPv4 and IPv6.
        assert_eq!(d["is_ipv6_enabled"], true);
        for (name, ty) in [("alias-a", "A"), ("alias-aaaa", "AAAA")] {
            let r = edge(&plan, &format!("aws:route53/Record::{name}"));
            assert_eq!(r["type"], ty);
            assert_eq!(r["name"], domain);
            assert_eq!(joined(&r["zone_id"]), "<ref:zone.zone_id>");
            assert_eq!(
                joined(&r["alias"]["name"]),
                "<ref:distribution.domain_name>"
            );
            assert_eq!(
                joined(&r["alias"]["zone_id"]),
                "<ref:distribution.hosted_zone_id>"
            );
            assert!(r.get("records").is_none() && r.get("ttl").is_none());
        }
    }
}

#[test]
fn r10_4_and_r10_5_spa_errors_and_ttls() {
    for (env, _) in ENVS {
        let plan = preview(&load(env));
        let d = edge(&plan, "aws:cloudfront/Distribution::distribution");
        assert_eq!(d["enabled"], true);
        assert_eq!(d["default_root_object"], "index.html");

        // R10.4: 403 and 404 answer /index.html with 200.
        let mut errors: Vec<&Value> = d["custom_error_responses"]
            .as_array()
            .unwrap()
            .iter()
            .collect();
        errors.sort_by_key(|e| e["error_code"].as_i64());
        assert_eq!(errors.len(), 2, "{env}");
        for (e, code) in errors.iter().zip([403, 404]) {
            assert_eq!(e["error_code"], code);
            assert_eq!(e["response_code"], 200);
            assert_eq!(e["response_page_path"], "/index.html");
            assert_eq!(e["error_caching_min_ttl"], 0);
        }

        // R10.5: assets a day by default; /index.html never cached.
        let def = &d["default_cache_behavior"];
        assert!(def.get("path_pattern").is_none());
        assert_eq!(def["default_ttl"], 86400);
        assert_eq!(def["min_ttl"], 0);
        assert!(def["max_ttl"].as_i64().unwrap() >= 86400);
        assert_eq!(def["allowed_methods"], json!(["GET", "HEAD"]));
        assert_eq!(def["forwarded_values"]["query_string"], false);
        let ordered = d["ordered_cache_behaviors"].as_array().unwrap();
        assert_eq!(ordered.len(), 1, "{env}");
        let index = &ordered[0];
        assert_eq!(index["path_pattern"], "/index.html");
        assert_eq!(index["min_ttl"], 0);
        assert_eq!(index["default_ttl"], 0);
        assert_eq!(index["max_ttl"], 0);
    }
}

#[test]
fn r10_7_outputs_name_the_distribution_and_buckets() {
    for (env, _) in ENVS {
        let loaded = load(env);
        let out = |name: &str| {
            let (_, urn, attr) = loaded
                .outputs
                .iter()
                .find(|(n, _, _)| n == name)
                .unwrap_or_else(|| panic!("{env}: no output {name}"));
            (urn.as_str().to_string(), attr.clone())
        };
        for (name, suffix, attr) in [
            (
                "cloudfront_domain_name",
                "edge::aws:cloudfront/Distribution::distribution",
                "domain_name",
            ),
            (
                "cloudfront_distribution_id",
                "edge::aws:cloudfront/Distribution::distribution",
                "id",
            ),
            ("frontend_bucket", "edge::aws:s3/Bucket::frontend", "bucket"),
            ("exports_bucket", "edge::aws:s3/Bucket::exports", "bucket"),
        ] {
            let (urn, a) = out(name);
            assert!(urn.ends_with(suffix), "{env}: {name} -> {urn}");
            assert_eq!(a, attr, "{env}: {name}");
        }
    }
}

#[test]
fn r6_5_clickhouse_volume_backed_up_daily_with_configured_retention() {
    for (env, _) in ENVS {
        let plan = preview(&load(env));
        let b = |s: &str| declared(&plan, &format!("backup::{s}"));
        let name = format!("morket-{env}-clickhouse-backup");

        let vault = b("aws:backup/Vault::vault");
        assert_eq!(vault["name"], name);
        assert_eq!(vault["force_destroy"], env == "staging");
        assert_eq!(
            protected(&plan, "backup::aws:backup/Vault::vault"),
            env == "production"
        );

        let p = b("aws:backup/Plan::plan");
        let rules = p["rules"].as_array().unwrap();
        assert_eq!(rules.len(), 1, "{env}");
        let r = &rules[0];
        assert_eq!(joined(&r["target_vault_name"]), "<ref:vault.name>");
        let sched = r["schedule"].as_str().unwrap();
        assert!(
            sched.starts_with("cron(") && sched.ends_with("* * *)"),
            "daily: {sched}"
        );
        // The default (7) when the file does not set it.
        assert_eq!(r["lifecycle"]["delete_after"], 7, "{env}");

        let sel = b("aws:backup/Selection::selection");
        assert_eq!(joined(&sel["plan_id"]), "<ref:plan.id>");
        assert_eq!(joined(&sel["iam_role_arn"]), "<ref:role.arn>");
        let resources = sel["resources"].as_array().unwrap();
        assert_eq!(resources.len(), 1);
        assert_eq!(joined(&resources[0]), "<ref:data.arn>");
        assert!(
            resources[0]["$ref"]["urn"]
                .as_str()
                .unwrap()
                .ends_with("clickhouse::aws:ec2/Volume::data"),
            "{env}: the ClickHouse data volume"
        );

        let role = b("aws:iam/Role::role");
        let trust: Value =
            serde_json::from_str(role["assume_role_policy"].as_str().unwrap()).unwrap();
        assert_eq!(
            trust["Statement"][0]["Principal"],
            json!({"Service": "backup.amazonaws.com"})
        );
        assert_eq!(trust["Statement"][0]["Action"], "sts:AssumeRole");
        // In the stack's partition (the caller identity lookup's).
        let mut managed: Vec<String> = role["managed_policy_arns"]
            .as_array()
            .unwrap()
            .iter()
            .map(joined)
            .collect();
        managed.sort();
        assert_eq!(
            managed,
            [
                "arn:<ref:caller.partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForBackup",
                "arn:<ref:caller.partition>:iam::aws:policy/service-role/AWSBackupServiceRolePolicyForRestores",
            ]
        );
    }
}

#[test]
fn r6_5_backup_retention_comes_from_the_file() {
    let loaded = load_edited(
        "staging",
        "max_threads = 2",
        "max_threads = 2\nbackup_retention_days = 14",
    )
    .unwrap();
    let plan = preview(&loaded);
    let p = declared(&plan, "backup::aws:backup/Plan::plan");
    assert_eq!(p["rules"][0]["lifecycle"]["delete_after"], 14);
    let err = load_edited(
        "staging",
        "max_threads = 2",
        "max_threads = 2\nbackup_retention_days = 0",
    )
    .err()
    .expect("0 days refused");
    assert!(err.contains("clickhouse.backup_retention_days"), "{err}");
}
