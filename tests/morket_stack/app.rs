//! The application layer: services (R3, R11.2/11.3, R16.1/16.5, R19), the
//! load balancer (R4), Temporal (R12) and the ECR pull policy (R17.5).

use super::*;

use std::collections::BTreeMap;

fn env_of(container: &Value) -> BTreeMap<String, String> {
    container["environment"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["name"].as_str().unwrap().to_string(), joined(&e["value"])))
        .collect()
}

fn secrets_of(container: &Value) -> BTreeMap<String, String> {
    container["secrets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                joined(&e["value_from"]),
            )
        })
        .collect()
}

/// (secret resource, key): what each secret variable reads.
fn secret_source(v: &str) -> (String, Option<String>) {
    // `<ref:NAME.arn>` or `<ref:NAME.arn>:KEY::`
    let rest = v.strip_prefix("<ref:").expect(v);
    let (target, tail) = rest.split_once('>').unwrap();
    let key = tail
        .strip_prefix(':')
        .map(|k| k.strip_suffix("::").expect(v).to_string());
    (target.to_string(), key)
}

#[test]
fn r3_task_definitions_sizes_images_logs_and_r19_environment() {
    for env in ["staging", "production"] {
        let loaded = load(env);
        let plan = preview(&loaded);
        let cfg_text = std::fs::read_to_string(stacks_dir().join(format!("{env}.toml"))).unwrap();
        let cfg: toml::Value = toml::from_str(&cfg_text).unwrap();
        for (key, sizes, image_repo) in [
            ("backend", "backend", Some("backend")),
            ("scraper", "scraper", Some("scraper")),
            ("temporal-worker", "temporal_worker", Some("backend")),
        ] {
            let td = declared(
                &plan,
                &format!("services::aws:ecs/TaskDefinition::{key}-task"),
            );
            let want = &cfg["ecs"][sizes];
            // R3.2–R3.4: sizes from the environment's file (R19.4/19.5).
            assert_eq!(
                td["cpu"],
                want["cpu"].as_integer().unwrap().to_string(),
                "{env} {key}"
            );
            assert_eq!(
                td["memory"],
                want["memory"].as_integer().unwrap().to_string(),
                "{env} {key}"
            );
            assert_eq!(td["family"], format!("morket-{env}-{key}"));
            assert_eq!(
                td["requires_compatibilities"],
                serde_json::json!(["FARGATE"])
            );
            assert_eq!(td["network_mode"], "awsvpc");
            let c = &td["container_definitions"][0];
            // The image is the repository URL with the configured tag.
            let tag = cfg["images"][image_repo.unwrap()].as_str().unwrap();
            assert_eq!(
                joined(&c["image"]),
                format!("<ref:{}.repository_url>:{tag}", image_repo.unwrap())
            );
            // R3.8 / R16.5: awslogs to the service's own group.
            let logs = &c["log_configuration"];
            assert_eq!(logs["log_driver"], "awslogs");
            assert_eq!(
                ref_name(&logs["options"]["awslogs-group"]),
                format!("{key}-logs")
            );
            assert_eq!(logs["options"]["awslogs-region"], "us-east-1");
            assert_eq!(logs["options"]["awslogs-stream-prefix"], "ecs");
            let group = declared(&plan, &format!("services::aws:logs/LogGroup::{key}-logs"));
            assert_eq!(group["name"], format!("/ecs/morket-{env}-{key}"));
            assert_eq!(
                group["retention_in_days"],
                cfg["log_retention_days"].as_integer().unwrap()
            );
            // The execution role is the service's own.
            assert_eq!(
                ref_name(&td["execution_role_arn"]),
                format!("{key}-execution")
            );
        }
        // R3.4: the worker runs the backend image with its own command.
        let worker = &declared(
            &plan,
            "services::aws:ecs/TaskDefinition::temporal-worker-task",
        )["container_definitions"][0];
        assert_eq!(
            worker["command"],
            serde_json::json!(["node", "dist/temporal/worker.js"])
        );
        assert!(worker["port_mappings"]
            .as_array()
            .is_none_or(|p| p.is_empty()));

        // R19.6: the backend's settings; credentials only as secrets.
        let backend = &declared(&plan, "services::aws:ecs/TaskDefinition::backend-task")
            ["container_definitions"][0];
        let e = env_of(backend);
        assert_eq!(
            e["DATABASE_URL"],
            "postgresql://<ref:cluster.endpoint>:5432/morket?sslmode=require"
        );
        assert_eq!(e["CLICKHOUSE_URL"], "http://<ref:instance.private_ip>:8123");
        assert_eq!(
            e["REDIS_URL"],
            "rediss://<ref:replication-group.primary_endpoint_address>:6379"
        );
        assert_eq!(e["RABBITMQ_URL"], "<ref:broker.amqps_endpoint>");
        assert_eq!(e["OPENSEARCH_URL"], "https://<ref:domain.endpoint>");
        assert_eq!(e["TEMPORAL_ADDRESS"], "temporal.morket.local:7233");
        assert_eq!(e["NODE_ENV"], "production");
        // sslmode=require verifies the host in node-postgres: with the RDS CA.
        assert_eq!(
            e["NODE_EXTRA_CA_CERTS"],
            "/etc/ssl/certs/rds-global-bundle.pem"
        );
        assert_eq!(
            e["LOG_LEVEL"],
            cfg["app"]["log_level"].as_str().unwrap_or("info")
        );
        assert_eq!(e["PORT"], "3000");
        assert_eq!(backend["port_mappings"][0]["container_port"], 3000);
        let s = secrets_of(backend);
        let want: [(&str, &str, Option<&str>); 13] = [
            ("PGUSER", "cluster.master_user_secret_arn", Some("username")),
            (
                "PGPASSWORD",
                "cluster.master_user_secret_arn",
                Some("password"),
            ),
            ("CLICKHOUSE_USER", "clickhouse.arn", Some("username")),
            ("CLICKHOUSE_PASSWORD", "clickhouse.arn", Some("password")),
            ("REDIS_PASSWORD", "redis.arn", Some("auth_token")),
            ("RABBITMQ_USER", "rabbitmq.arn", Some("username")),
            ("RABBITMQ_PASSWORD", "rabbitmq.arn", Some("password")),
            ("OPENSEARCH_USERNAME", "opensearch.arn", Some("username")),
            ("OPENSEARCH_PASSWORD", "opensearch.arn", Some("password")),
            ("JWT_SECRET", "jwt.arn", None),
            ("ENCRYPTION_MASTER_KEY", "encryption-key.arn", None),
            ("SERVICE_API_KEY", "service-api-key.arn", None),
            ("WEBHOOK_HMAC_SECRET", "webhook-hmac.arn", None),
        ];
        assert_eq!(s.len(), want.len(), "{s:?}");
        for (var, source, key) in want {
            assert_eq!(
                secret_source(&s[var]),
                (source.to_string(), key.map(str::to_string)),
                "{env} {var}"
            );
        }
        // R11.2 / R19.3: nothing secret-looking is an environment variable.
        for name in e.keys() {
            assert!(
                !["PASSWORD", "SECRET", "KEY", "TOKEN"]
                    .iter()
                    .any(|w| name.contains(w)),
                "{name} is in environment"
            );
        }
        // The worker connects like the backend.
        assert_eq!(secrets_of(worker), s);
        let mut we = env_of(worker);
        we.insert("PORT".into(), "3000".into());
        assert_eq!(we, e);

        // R19.7: the scraper's settings.
        let scraper = &declared(&plan, "services::aws:ecs/TaskDefinition::scraper-task")
            ["container_definitions"][0];
        let e = env_of(scraper);
        assert_eq!(
            e["BACKEND_API_URL"],
            format!(
                "https://api.{}/api/v1",
                cfg["domain_name"].as_str().unwrap()
            )
        );
        assert!(e.contains_key("PROXY_URLS"));
        assert_eq!(e["BROWSER_POOL_SIZE"], "3");
        assert_eq!(e["PORT"], "8001");
        assert_eq!(
            secrets_of(scraper)
                .into_iter()
                .map(|(k, v)| (k, secret_source(&v)))
                .collect::<Vec<_>>(),
            vec![(
                "SERVICE_API_KEY".to_string(),
                ("service-api-key.arn".to_string(), None)
            )]
        );
    }
}

#[test]
fn r11_3_each_execution_role_reads_exactly_its_own_secrets() {
    let plan = preview(&load("staging"));
    for (key, want) in [
        (
            "backend",
            vec![
                "<ref:clickhouse.arn>",
                "<ref:cluster.master_user_secret_arn>",
                "<ref:encryption-key.arn>",
                "<ref:jwt.arn>",
                "<ref:opensearch.arn>",
                "<ref:rabbitmq.arn>",
                "<ref:redis.arn>",
                "<ref:service-api-key.arn>",
                "<ref:webhook-hmac.arn>",
            ],
        ),
        ("scraper", vec!["<ref:service-api-key.arn>"]),
    ] {
        let role = declared(&plan, &format!("services::aws:iam/Role::{key}-execution"));
        assert_eq!(role["name"], format!("morket-staging-{key}-execution"));
        assert!(joined(&serde_json::json!(role["assume_role_policy"]))
            .contains("ecs-tasks.amazonaws.com"));
        assert_eq!(
            role["managed_policy_arns"],
            serde_json::json!([
                "arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy"
            ])
        );
        let policy = joined(&role["inline_policies"]["read-own-secrets"]);
        assert!(
            policy.contains(r#""Action":"secretsmanager:GetSecretValue""#),
            "{policy}"
        );
        let mut got: Vec<String> = policy
            .split('"')
            .filter(|p| p.starts_with("<ref:"))
            .map(str::to_string)
            .collect();
        got.sort();
        assert_eq!(got, want, "{key}");
    }
    // The Temporal server reads only Aurora's.
    let role = declared(&plan, "temporal::aws:iam/Role::temporal-server-execution");
    let policy = joined(&role["inline_policies"]["read-own-secrets"]);
    let got: Vec<&str> = policy
        .split('"')
        .filter(|p| p.starts_with("<ref:"))
        .collect();
    assert_eq!(got, vec!["<ref:cluster.master_user_secret_arn>"]);
}

#[test]
fn r3_5_to_r3_7_services_deploy_rolling_with_breaker_and_scale_on_cpu() {
    for env in ["staging", "production"] {
        let plan = preview(&load(env));
        let cfg: toml::Value = toml::from_str(
            &std::fs::read_to_string(stacks_dir().join(format!("{env}.toml"))).unwrap(),
        )
        .unwrap();
        for (urn, sizes, tg) in [
            (
                "services::aws:ecs/Service::backend",
                "backend",
                Some(("backend", 3000)),
            ),
            (
                "services::aws:ecs/Service::scraper",
                "scraper",
                Some(("scraper", 8001)),
            ),
            (
                "services::aws:ecs/Service::temporal-worker",
                "temporal_worker",
                None,
            ),
            (
                "temporal::aws:ecs/Service::temporal-server",
                "temporal_server",
                None,
            ),
        ] {
            let s = declared(&plan, urn);
            let want = &cfg["ecs"][sizes];
            assert_eq!(
                s["desired_count"],
                want["desired_count"].as_integer().unwrap(),
                "{urn}"
            );
            assert_eq!(s["deployment_minimum_healthy_percent"], 100);
            assert_eq!(s["deployment_maximum_percent"], 200);
            assert_eq!(s["deployment_circuit_breaker"]["enable"], true);
            assert_eq!(s["deployment_circuit_breaker"]["rollback"], true);
            assert_eq!(s["wait_for_steady_state"], true);
            assert_eq!(ref_name(&s["cluster"]), "cluster");
            let net = &s["network_configuration"];
            assert_eq!(ref_names(&net["subnets"]), PRIVATE);
            assert_eq!(net["assign_public_ip"], false);
            let sg = if urn.starts_with("temporal") {
                "sg-temporal"
            } else {
                "sg-ecs"
            };
            assert_eq!(ref_names(&net["security_groups"]), [sg]);
            match tg {
                Some((name, port)) => {
                    let lb = &s["load_balancers"][0];
                    assert_eq!(ref_name(&lb["target_group_arn"]), name);
                    assert_eq!(lb["container_port"], port);
                    // The target group is behind the listener first.
                    let deps = depends_on(&load(env), urn);
                    assert!(
                        deps.iter().any(|d| d.ends_with("ListenerRule::api")),
                        "{deps:?}"
                    );
                    assert!(
                        deps.iter().any(|d| d.ends_with("ListenerRule::scrape")),
                        "{deps:?}"
                    );
                }
                None => assert!(s["load_balancers"].as_array().is_none_or(|l| l.is_empty())),
            }
            // R3.7 / R19.5: CPU target tracking at 70 % where a maximum is set.
            let key = urn.rsplit("::").next().unwrap();
            let target = plan.steps.iter().find(|st| {
                st.urn
                    .as_str()
                    .ends_with(&format!("aws:appautoscaling/Target::{key}-scaling"))
            });
            match want.get("max_count").and_then(toml::Value::as_integer) {
                Some(max) => {
                    let t = &target.unwrap().new.as_ref().unwrap().inputs;
                    assert_eq!(t["max_capacity"], max);
                    assert_eq!(t["min_capacity"], 2, "R3.7: at least 2 tasks");
                    assert_eq!(t["scalable_dimension"], "ecs:service:DesiredCount");
                    let p = declared(&plan, &format!("aws:appautoscaling/Policy::{key}-cpu"));
                    assert_eq!(p["policy_type"], "TargetTrackingScaling");
                    let tt = &p["target_tracking"];
                    assert_eq!(
                        tt["predefined_metric_type"],
                        "ECSServiceAverageCPUUtilization"
                    );
                    assert_eq!(tt["target_value"], 70.0);
                    assert_eq!(ref_name(&p["resource_id"]), format!("{key}-scaling"));
                }
                None => assert!(target.is_none(), "{env} {key}"),
            }
        }
        // R19.5: production scales the API services; staging too, smaller.
        assert_eq!(count_type(&plan, "aws:appautoscaling/Policy"), 2, "{env}");
    }
}

#[test]
fn r4_alb_listeners_rules_in_order_logs_and_timeout() {
    for env in ["staging", "production"] {
        let plan = preview(&load(env));
        let cfg: toml::Value = toml::from_str(
            &std::fs::read_to_string(stacks_dir().join(format!("{env}.toml"))).unwrap(),
        )
        .unwrap();
        let domain = cfg["domain_name"].as_str().unwrap();
        let lb = declared(&plan, "alb::aws:lb/LoadBalancer::alb");
        // R4.1: internet-facing, in the public subnets.
        assert_eq!(lb["internal"], false);
        assert_eq!(
            ref_names(&lb["subnets"]),
            ["public-us-east-1a", "public-us-east-1b"]
        );
        assert_eq!(ref_names(&lb["security_groups"]), ["sg-alb"]);
        // R4.7
        assert_eq!(lb["idle_timeout"], 120);
        // R4.6
        assert_eq!(lb["access_logs"]["enabled"], true);
        assert_eq!(
            lb["access_logs"]["bucket"],
            format!("morket-{env}-alb-logs")
        );
        assert_eq!(lb["deletion_protection"], env == "production");
        let logs = declared(&plan, "alb::aws:s3/Bucket::access-logs");
        assert_eq!(logs["bucket"], format!("morket-{env}-alb-logs"));
        let rule = &logs["lifecycle_rules"][0];
        assert_eq!(rule["expiration_days"], 90);
        assert_eq!(rule["enabled"], true);
        let policy = joined(&logs["policy"]);
        // us-east-1's ELB log-delivery account may write under the prefix.
        assert!(
            policy.contains(r#""AWS":"arn:aws:iam::127311923021:root""#),
            "{policy}"
        );
        assert!(policy.contains(&format!(
            "arn:<ref:caller.partition>:s3:::morket-{env}-alb-logs/alb/AWSLogs/<ref:caller.account_id>/*"
        )), "{policy}");
        // R4.1: the certificate of api.<domain>, validated in the zone.
        let cert = declared(&plan, "alb::aws:acm/Certificate::certificate");
        assert_eq!(cert["domain_name"], format!("api.{domain}"));
        assert_eq!(cert["validation_method"], "DNS");
        let https = declared(&plan, "alb::aws:lb/Listener::https");
        assert_eq!(https["port"], 443);
        assert_eq!(https["protocol"], "HTTPS");
        assert_eq!(
            ref_name(&https["certificate_arn"]),
            "certificate-validation"
        );
        // R4.5: the rest goes to the frontend (CloudFront on the domain).
        let d = &https["default_action"];
        assert_eq!(d["type"], "redirect");
        assert_eq!(d["redirect"]["host"], domain);
        assert_eq!(d["redirect"]["protocol"], "HTTPS");
        // R4.2
        let http = declared(&plan, "alb::aws:lb/Listener::http");
        assert_eq!(http["port"], 80);
        assert_eq!(http["default_action"]["type"], "redirect");
        assert_eq!(http["default_action"]["redirect"]["protocol"], "HTTPS");
        assert_eq!(
            http["default_action"]["redirect"]["status_code"],
            "HTTP_301"
        );
        // R4.3 before R4.4.
        let scrape = declared(&plan, "alb::aws:lb/ListenerRule::scrape");
        let api = declared(&plan, "alb::aws:lb/ListenerRule::api");
        assert!(scrape["priority"].as_i64() < api["priority"].as_i64());
        assert_eq!(
            scrape["conditions"][0]["path_pattern"],
            serde_json::json!(["/api/v1/scrape*"])
        );
        assert_eq!(
            api["conditions"][0]["path_pattern"],
            serde_json::json!(["/api/v1/*"])
        );
        assert_eq!(ref_name(&scrape["action"]["target_group_arn"]), "scraper");
        assert_eq!(ref_name(&api["action"]["target_group_arn"]), "backend");
        for r in [scrape, api] {
            assert_eq!(ref_name(&r["listener_arn"]), "https");
        }
        // R3.6: target groups check /health every 30 s, 2 up, 3 down.
        for (tg, port) in [("backend", 3000), ("scraper", 8001)] {
            let t = declared(&plan, &format!("alb::aws:lb/TargetGroup::{tg}"));
            assert_eq!(t["port"], port);
            assert_eq!(t["target_type"], "ip");
            let h = &t["health_check"];
            assert_eq!(h["path"], "/health");
            assert_eq!(h["interval"], 30);
            assert_eq!(h["healthy_threshold"], 2);
            assert_eq!(h["unhealthy_threshold"], 3);
        }
        // api.<domain> points at the ALB.
        let rec = declared(&plan, "alb::aws:route53/Record::api-record");
        assert_eq!(rec["name"], format!("api.{domain}"));
        assert_eq!(ref_name(&rec["alias"]["name"]), "alb");
        assert_eq!(ref_name(&rec["zone_id"]), "zone");
    }
}

#[test]
fn r12_temporal_server_on_aurora_with_cloud_map_name() {
    let plan = preview(&load("staging"));
    let td = declared(
        &plan,
        "temporal::aws:ecs/TaskDefinition::temporal-server-task",
    );
    // R12.1
    assert_eq!(td["cpu"], "1024");
    assert_eq!(td["memory"], "2048");
    let c = &td["container_definitions"][0];
    assert_eq!(c["image"], "temporalio/auto-setup:1.24.2");
    assert_eq!(c["port_mappings"][0]["container_port"], 7233);
    // R12.2 / R12.5
    let e = env_of(c);
    assert_eq!(e["DB"], "postgres12");
    assert_eq!(e["POSTGRES_SEEDS"], "<ref:cluster.endpoint>");
    assert_eq!(e["DBNAME"], "temporal");
    assert_eq!(e["VISIBILITY_DBNAME"], "temporal_visibility");
    let s = secrets_of(c);
    assert_eq!(
        secret_source(&s["POSTGRES_USER"]),
        (
            "cluster.master_user_secret_arn".into(),
            Some("username".into())
        )
    );
    assert_eq!(
        secret_source(&s["POSTGRES_PWD"]),
        (
            "cluster.master_user_secret_arn".into(),
            Some("password".into())
        )
    );
    assert!(!e
        .keys()
        .any(|k| k.contains("PWD") || k.contains("PASSWORD")));
    // R12.3: a check on the gRPC port, and the Cloud Map name.
    let hc = c["health_check"]["command"].as_array().unwrap();
    assert!(hc[1].as_str().unwrap().contains("7233"), "{hc:?}");
    let ns = declared(
        &plan,
        "temporal::aws:servicediscovery/PrivateDnsNamespace::namespace",
    );
    assert_eq!(ns["name"], "morket.local");
    assert_eq!(ref_name(&ns["vpc"]), "vpc");
    let d = declared(&plan, "temporal::aws:servicediscovery/Service::discovery");
    assert_eq!(d["name"], "temporal");
    assert_eq!(ref_name(&d["namespace_id"]), "namespace");
    let svc = declared(&plan, "temporal::aws:ecs/Service::temporal-server");
    assert_eq!(
        ref_name(&svc["service_registries"][0]["registry_arn"]),
        "discovery"
    );
    assert_eq!(svc["desired_count"], 1);
    // R12.4 (network): 7233 only from ECS; the server reaches Aurora.
    let rule = declared(
        &plan,
        "temporal::aws:ec2/SecurityGroupRule::aurora-5432-from-temporal",
    );
    assert_eq!(ref_name(&rule["security_group_id"]), "sg-aurora");
    assert_eq!(ref_name(&rule["source_security_group_id"]), "sg-temporal");
    assert_eq!(rule["from_port"], 5432);
    let deps = depends_on(
        &load("staging"),
        "temporal::aws:ecs/Service::temporal-server",
    );
    assert!(
        deps.iter()
            .any(|d| d.ends_with("aurora-5432-from-temporal")),
        "{deps:?}"
    );
}

#[test]
fn r17_5_repository_policies_let_the_execution_roles_pull() {
    let plan = preview(&load("staging"));
    for (repo, roles) in [
        (
            "backend",
            vec!["backend-execution", "temporal-worker-execution"],
        ),
        ("scraper", vec!["scraper-execution"]),
    ] {
        let p = declared(
            &plan,
            &format!("services::aws:ecr/RepositoryPolicy::{repo}-pull"),
        );
        assert_eq!(ref_name(&p["repository"]), repo);
        let text = joined(&p["policy"]);
        assert!(text.contains("ecr:BatchGetImage"), "{text}");
        assert!(text.contains("ecr:GetDownloadUrlForLayer"), "{text}");
        for r in roles {
            assert!(text.contains(&format!("<ref:{r}.arn>")), "{text}");
        }
    }
}

#[test]
fn an_image_tag_set_on_the_command_line_reaches_only_its_task_definitions() {
    let base = load("staging");
    let rolled = stacks::load(
        stacks_dir(),
        "staging",
        None,
        &stacks::StackEnv {
            set: vec![("images.backend".into(), "v2.0.1".into())],
            ..Default::default()
        },
    )
    .unwrap();
    let image = |l: &stacks::Loaded, key: &str| {
        let plan = preview(l);
        joined(
            &declared(
                &plan,
                &format!("services::aws:ecs/TaskDefinition::{key}-task"),
            )["container_definitions"][0]["image"],
        )
    };
    assert_eq!(
        image(&rolled, "backend"),
        "<ref:backend.repository_url>:v2.0.1"
    );
    assert_eq!(
        image(&rolled, "temporal-worker"),
        "<ref:backend.repository_url>:v2.0.1"
    );
    assert_eq!(image(&rolled, "scraper"), image(&base, "scraper"));
}

#[test]
fn the_backend_and_worker_task_roles_may_use_the_exports_bucket_only() {
    let plan = preview(&load("staging"));
    for key in ["backend", "temporal-worker"] {
        let td = declared(
            &plan,
            &format!("services::aws:ecs/TaskDefinition::{key}-task"),
        );
        assert_eq!(ref_name(&td["task_role_arn"]), format!("{key}-task-role"));
        let role = declared(&plan, &format!("services::aws:iam/Role::{key}-task-role"));
        assert_eq!(role["name"], format!("morket-staging-{key}-task"));
        let policy = joined(&role["inline_policies"]["application"]);
        assert!(
            policy.contains(r#""Action":"s3:ListBucket","Resource":"<ref:exports.arn>""#),
            "{policy}"
        );
        assert!(
            policy.contains(r#""Resource":"<ref:exports.arn>/*""#),
            "{policy}"
        );
        let refs: Vec<&str> = policy
            .split('"')
            .filter(|p| p.starts_with("<ref:"))
            .collect();
        assert!(
            refs.iter().all(|r| r.starts_with("<ref:exports.arn>")),
            "{policy}"
        );
    }
    for urn in [
        "services::aws:ecs/TaskDefinition::scraper-task",
        "temporal::aws:ecs/TaskDefinition::temporal-server-task",
    ] {
        assert!(
            declared(&plan, urn)
                .get("task_role_arn")
                .is_none_or(Value::is_null),
            "{urn}"
        );
    }
}

#[test]
fn r3_6_the_health_check_path_is_configurable_and_checked() {
    let with = |set: &[(&str, &str)]| {
        stacks::load(
            stacks_dir(),
            "staging",
            None,
            &stacks::StackEnv {
                set: set
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect(),
                ..Default::default()
            },
        )
    };
    // Seed 001's backend Dockerfile checks /api/v1/health.
    let plan = preview(&with(&[("ecs.backend.health_check_path", "/api/v1/health")]).unwrap());
    let path = |tg: &str| {
        declared(&plan, &format!("alb::aws:lb/TargetGroup::{tg}"))["health_check"]["path"].clone()
    };
    assert_eq!(path("backend"), "/api/v1/health");
    assert_eq!(path("scraper"), "/health");
    let Err(e) = with(&[("ecs.scraper.health_check_path", "health")]) else {
        panic!("a path without '/' is accepted")
    };
    let e = e.to_string();
    assert!(e.contains("ecs.scraper.health_check_path"), "{e}");
    assert!(e.contains("\"health\""), "{e}");
    // R3.7: an autoscaled API service keeps at least 2 tasks.
    let Err(e) = with(&[("ecs.backend.desired_count", "1")]) else {
        panic!("desired_count 1 with max_count is accepted")
    };
    assert!(e.to_string().contains("ecs.backend.desired_count"), "{e}");
}

#[test]
fn tasks_start_after_aurora_s_writer_and_their_secrets_values() {
    let loaded = load("staging");
    for (urn, values) in [
        (
            "services::aws:ecs/Service::backend",
            vec!["clickhouse-value", "jwt-value", "webhook-hmac-value"],
        ),
        (
            "services::aws:ecs/Service::scraper",
            vec!["service-api-key-value"],
        ),
        ("temporal::aws:ecs/Service::temporal-server", vec![]),
    ] {
        let deps = depends_on(&loaded, urn);
        assert!(
            deps.iter()
                .any(|d| d.ends_with("aws:rds/DbClusterInstance::writer")),
            "{urn}: {deps:?}"
        );
        for v in values {
            assert!(
                deps.iter()
                    .any(|d| d.ends_with(&format!("aws:secretsmanager/SecretVersion::{v}"))),
                "{urn}: {deps:?}"
            );
        }
    }
    // The scraper waits for its own secret only.
    let deps = depends_on(&loaded, "services::aws:ecs/Service::scraper");
    assert_eq!(
        deps.iter().filter(|d| d.contains("SecretVersion")).count(),
        1,
        "{deps:?}"
    );
}
