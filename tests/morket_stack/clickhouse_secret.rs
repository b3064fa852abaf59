//! R6.6: the ClickHouse instance receives the admin credentials from
//! Secrets Manager (see morket_stack.rs for the helpers).

#[allow(unused_imports)]
use super::*;

const ROLE: &str = "clickhouse::aws:iam/Role::role";
const PROFILE: &str = "clickhouse::aws:iam/InstanceProfile::instance-profile";
const TEMPLATE: &str = "clickhouse::aws:ec2/LaunchTemplate::launch-template";
const SECRET: &str = "secrets::aws:secretsmanager/Secret::clickhouse";

/// The `$ref`s of a declared value (an interpolation's parts, or the value).
fn refs(v: &Value) -> Vec<&Value> {
    match v.get("$concat").and_then(Value::as_array) {
        Some(parts) => parts.iter().filter(|p| p.get("$ref").is_some()).collect(),
        None => v.get("$ref").map(|_| v).into_iter().collect(),
    }
}

fn user_data(plan: &Plan) -> String {
    declared(plan, TEMPLATE)["user_data"]
        .as_str()
        .expect("user data is plain text: it names no secret value")
        .to_string()
}

#[test]
fn r6_6_clickhouse_role_may_read_exactly_the_clickhouse_secret() {
    for env in ["staging", "production"] {
        let plan = preview(&load(env));
        let role = declared(&plan, ROLE);
        assert_eq!(role["name"], format!("morket-{env}-clickhouse"));
        let trust: Value =
            serde_json::from_str(role["assume_role_policy"].as_str().unwrap()).unwrap();
        assert_eq!(
            trust["Statement"],
            serde_json::json!([{
                "Effect": "Allow",
                "Principal": {"Service": "ec2.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }]),
            "{env}: only EC2 may assume it"
        );
        assert!(
            role["managed_policy_arns"]
                .as_array()
                .is_none_or(|a| a.is_empty()),
            "{env}: no managed policies"
        );
        let inline = role["inline_policies"].as_object().unwrap();
        let names: Vec<&String> = inline.keys().collect();
        assert_eq!(
            names,
            ["put-query-metrics", "read-clickhouse-secret"],
            "{env}"
        );
        let doc = &inline["read-clickhouse-secret"];
        // The document names one reference: the clickhouse secret's ARN.
        let r = refs(doc);
        assert_eq!(r.len(), 1, "{env}: {doc}");
        let urn = r[0]["$ref"]["urn"].as_str().unwrap();
        assert!(urn.ends_with(SECRET), "{env}: {urn}");
        assert_eq!(r[0]["$ref"]["attr"], "arn");
        let parsed: Value = serde_json::from_str(&joined(doc)).unwrap();
        assert_eq!(
            parsed["Statement"],
            serde_json::json!([{
                "Effect": "Allow",
                "Action": "secretsmanager:GetSecretValue",
                "Resource": "<ref:clickhouse.arn>",
            }]),
            "{env}: one action on one resource, no wildcard"
        );
    }
}

#[test]
fn r6_6_the_launch_template_hands_the_role_to_the_instance() {
    for env in ["staging", "production"] {
        let plan = preview(&load(env));
        let profile = declared(&plan, PROFILE);
        assert_eq!(profile["name"], format!("morket-{env}-clickhouse"));
        assert_eq!(ref_name(&profile["role"]), "role");
        assert_eq!(profile["role"]["$ref"]["attr"], "name");
        assert!(profile["role"]["$ref"]["urn"]
            .as_str()
            .unwrap()
            .ends_with(ROLE));
        let lt = declared(&plan, TEMPLATE);
        assert_eq!(
            ref_name(&lt["iam_instance_profile_name"]),
            "instance-profile"
        );
        assert_eq!(lt["iam_instance_profile_name"]["$ref"]["attr"], "name");
        // IMDSv2 only, one hop: the credentials are for the host alone.
        assert_eq!(lt["metadata_options"]["http_tokens"], "required");
        assert_eq!(lt["metadata_options"]["http_put_response_hop_limit"], 1);
        // Production keeps the role and profile with the data store.
        for suffix in [ROLE, PROFILE] {
            let s = plan
                .steps
                .iter()
                .find(|s| s.urn.as_str().ends_with(suffix))
                .unwrap();
            assert_eq!(
                s.new.as_ref().unwrap().options.protect,
                env == "production",
                "{suffix}"
            );
        }
    }
}

#[test]
fn r6_6_user_data_fetches_the_secret_and_holds_no_secret_material() {
    for env in ["staging", "production"] {
        let plan = preview(&load(env));
        let ud = user_data(&plan);
        let secret_name = declared(&plan, SECRET)["name"]
            .as_str()
            .unwrap()
            .to_string();
        assert_eq!(secret_name, format!("morket/{env}/clickhouse"));
        // Fetched at boot by the AWS CLI (a snap on Ubuntu 24.04, retried)
        // with the instance role's credentials, in the stack's region.
        assert!(ud.contains("snap install aws-cli --classic"), "{env}");
        assert!(
            ud.contains("secretsmanager get-secret-value --region us-east-1")
                && ud.contains(&format!("--secret-id {secret_name} ")),
            "{env}"
        );
        assert!(ud.contains("for _ in $(seq 1 60)"), "{env}: retried");
        // No secret material, and nothing that would echo it.
        assert!(!ud.contains("set -x") && !ud.contains("xtrace"), "{env}");
        assert!(!ud.contains("$secret") && !ud.contains("$ref"), "{env}");
        assert!(
            !ud.contains("<password>"),
            "{env}: no plain password element"
        );
        assert!(
            !ud.contains("echo \"$admin") && !ud.contains("SecretString\n"),
            "{env}"
        );
        // The admin user: SHA-256 only, with access management; written
        // before the server listens beyond localhost.
        assert!(
            ud.contains("<morket_admin>")
                && ud.contains("<password_sha256_hex>$admin_sha256</password_sha256_hex>")
                && ud.contains("<access_management>1</access_management>"),
            "{env}"
        );
        let admin = ud.find("users.d/morket-admin.xml").unwrap();
        let listen = ud.find("<listen_host>0.0.0.0</listen_host>").unwrap();
        let start = ud.find("systemctl restart clickhouse-server").unwrap();
        assert!(admin < listen && listen < start, "{env}: order");
        let check = std::process::Command::new("bash")
            .args(["-n", "-c", &ud])
            .output()
            .unwrap();
        assert!(
            check.status.success(),
            "{}",
            String::from_utf8_lossy(&check.stderr)
        );
    }
}

#[test]
fn r6_6_default_user_answers_on_localhost_only() {
    let ud = user_data(&preview(&load("staging")));
    let start = ud
        .find("    <default>\n      <networks")
        .expect("default user");
    let end = start + ud[start..].find("</default>").unwrap();
    let block = &ud[start..end];
    assert!(block.contains(r#"<networks replace="replace">"#), "{block}");
    let ips: Vec<&str> = block
        .lines()
        .filter_map(|l| l.trim().strip_prefix("<ip>")?.strip_suffix("</ip>"))
        .collect();
    assert_eq!(ips, vec!["::1", "127.0.0.1"]);
    assert!(!block.contains("<host") && !block.contains("access_management"));
}

/// The script's Python step, run on a secret like the stack's: it prints
/// the password's SHA-256 and nothing of the password, and refuses a
/// secret for another user without echoing it.
#[test]
fn r6_6_the_boot_script_turns_the_secret_into_a_hash_only() {
    let ud = user_data(&preview(&load("staging")));
    let start = ud.find("python3 -c '").unwrap() + "python3 -c '".len();
    let code = &ud[start..start + ud[start..].find("'\n}").unwrap()];
    let run = |secret: &str| {
        use std::io::Write;
        let mut p = std::process::Command::new("python3")
            .args(["-c", code])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        p.stdin
            .take()
            .unwrap()
            .write_all(secret.as_bytes())
            .unwrap();
        let out = p.wait_with_output().unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (ok, out, _) = run(r#"{"username":"morket_admin","password":"s3cr^t-*&!_+"}"#);
    assert!(ok);
    // sha256("s3cr^t-*&!_+")
    let want = {
        let o = std::process::Command::new("python3")
            .args([
                "-c",
                "import hashlib; print(hashlib.sha256(b's3cr^t-*&!_+').hexdigest())",
            ])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap()
    };
    assert_eq!(out, want);
    assert_eq!(out.trim().len(), 64);
    assert!(!out.contains("s3cr"));
    let (ok, out, err) = run(r#"{"username":"someone","password":"s3cr^t-*&!_+"}"#);
    assert!(!ok && out.is_empty());
    assert!(!err.contains("s3cr"), "{err}");
    let (ok, _, err) = run("not json s3cr^t");
    assert!(!ok && !err.contains("s3cr"), "{err}");
}

/// Step 3 of the boot script, run here with a stand-in for the AWS CLI and
/// a temporary users.d: the file it writes holds the hash, not the
/// password, is readable by its group only, and nothing is printed.
#[test]
fn r6_6_the_boot_script_writes_the_admin_user_with_the_hash_only() {
    use std::os::unix::fs::PermissionsExt;
    let ud = user_data(&preview(&load("staging")));
    let start = ud.find("# 3. The admin user").unwrap();
    let end = ud.find("# 4. Server settings.").unwrap();
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let password = "s3cr^t-*&!_+";
    // The CLI stand-in answers only the call the script should make.
    let aws = format!("{d}/aws");
    std::fs::write(
        &aws,
        format!(
            "#!/bin/bash\n[ \"$*\" = 'secretsmanager get-secret-value --region us-east-1 \
             --secret-id morket/staging/clickhouse --query SecretString --output text' ] || exit 3\n\
             echo '{{\"username\":\"morket_admin\",\"password\":\"{password}\"}}'\n"
        ),
    )
    .unwrap();
    std::fs::set_permissions(&aws, std::fs::Permissions::from_mode(0o755)).unwrap();
    std::fs::create_dir(format!("{d}/users.d")).unwrap();
    let step = ud[start..end]
        .replace("/snap/bin/aws", &aws)
        .replace("/etc/clickhouse-server/users.d", &format!("{d}/users.d"))
        .replace("chgrp clickhouse", "chgrp \"$(id -gn)\"");
    let out = std::process::Command::new("bash")
        .args(["-c", &format!("set -euo pipefail\n{step}")])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{stdout}{stderr}");
    assert!(stdout.is_empty() && stderr.is_empty(), "{stdout}{stderr}");
    let file = format!("{d}/users.d/morket-admin.xml");
    let xml = std::fs::read_to_string(&file).unwrap();
    let sha = {
        let o = std::process::Command::new("python3")
            .args([
                "-c",
                &format!("import hashlib; print(hashlib.sha256(b'{password}').hexdigest())"),
            ])
            .output()
            .unwrap();
        String::from_utf8(o.stdout).unwrap().trim().to_string()
    };
    assert!(
        xml.contains(&format!("<password_sha256_hex>{sha}</password_sha256_hex>")),
        "{xml}"
    );
    assert!(!xml.contains("s3cr"), "{xml}");
    assert!(xml.contains("<morket_admin>") && xml.contains("</morket_admin>"));
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o640);
}

/// R16.4: a timer on the host puts ClickHouse's query metrics in the
/// stack's namespace, which is all its role may put.
#[test]
fn r16_4_the_host_publishes_query_metrics_to_its_namespace_only() {
    use std::os::unix::fs::PermissionsExt;
    for env in ["staging", "production"] {
        let plan = preview(&load(env));
        let role = declared(&plan, ROLE);
        let doc: Value =
            serde_json::from_str(&joined(&role["inline_policies"]["put-query-metrics"])).unwrap();
        assert_eq!(
            doc["Statement"],
            serde_json::json!([{
                "Effect": "Allow",
                "Action": "cloudwatch:PutMetricData",
                "Resource": "*",
                "Condition": {"StringEquals": {"cloudwatch:namespace": format!("Morket/{env}")}},
            }]),
            "{env}"
        );
        let ud = user_data(&plan);
        assert!(ud.contains("systemctl enable --now morket-clickhouse-metrics.timer"));
        assert!(ud.contains("OnUnitActiveSec=60s"));
    }
    // The script itself, with stand-ins for IMDS, clickhouse-client and the CLI.
    let ud = user_data(&preview(&load("staging")));
    let start = ud
        .find("cat > /usr/local/bin/morket-clickhouse-metrics <<'SH'\n")
        .unwrap();
    let body = &ud[start..];
    let body = &body[body.find('\n').unwrap() + 1..body.find("\nSH\n").unwrap()];
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display().to_string();
    let stub = |name: &str, text: &str| {
        let path = format!("{d}/{name}");
        std::fs::write(&path, format!("#!/bin/bash\n{text}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    stub(
        "curl",
        r#"case "$*" in *api/token*) echo tok ;; *instance-id*) echo i-0abc ;; *) exit 7 ;; esac"#,
    );
    stub("clickhouse-client", r#"printf '42\t17.5\n'"#);
    stub("aws", &format!(r#"printf '%s\n' "$@" > {d}/put"#));
    let script = body.replace("/snap/bin/aws", &format!("{d}/aws"));
    let out = std::process::Command::new("bash")
        .args(["-c", &script])
        .env("PATH", format!("{d}:/usr/bin:/bin"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let put = std::fs::read_to_string(format!("{d}/put")).unwrap();
    let args: Vec<&str> = put.lines().collect();
    assert_eq!(
        args,
        [
            "cloudwatch",
            "put-metric-data",
            "--region",
            "us-east-1",
            "--namespace",
            "Morket/staging",
            "--metric-data",
            "MetricName=ClickHouseQueries,Dimensions=[{Name=InstanceId,Value=i-0abc}],Value=42,Unit=Count",
            "MetricName=ClickHouseQueryDurationMs,Dimensions=[{Name=InstanceId,Value=i-0abc}],Value=17.5,Unit=Milliseconds",
        ]
    );
}
