//! Morket stack tests (see morket_stack.rs): R16.2–R16.4 and R16.6, the
//! alarms, their topic, the backend ERROR metric filter and the dashboard.

use std::collections::BTreeMap;

#[allow(unused_imports)]
use super::*;

const ENVS: [&str; 2] = ["staging", "production"];

/// The ECS services (label, URN suffix of the `aws:ecs/Service`).
const SERVICES: [(&str, &str); 4] = [
    ("backend", "services::aws:ecs/Service::backend"),
    ("scraper", "services::aws:ecs/Service::scraper"),
    (
        "temporal-worker",
        "services::aws:ecs/Service::temporal-worker",
    ),
    (
        "temporal-server",
        "temporal::aws:ecs/Service::temporal-server",
    ),
];
const ECS_CLUSTER: &str = "ecs::aws:ecs/Cluster::cluster";
const ALB: &str = "alb::aws:lb/LoadBalancer::alb";
const AURORA: &str = "aurora::aws:rds/DbCluster::cluster";
const CLICKHOUSE: &str = "clickhouse::aws:ec2/Instance::instance";
const TOPIC: &str = "observability::aws:sns/Topic::alarms";

/// `v` is a reference to output `attr` of the resource whose URN ends in `suffix`.
fn assert_ref(v: &Value, suffix: &str, attr: &str) {
    let urn = v["$ref"]["urn"]
        .as_str()
        .unwrap_or_else(|| panic!("{v} is not a reference (to {suffix}.{attr})"));
    assert!(
        urn.ends_with(&format!("::{suffix}")),
        "{urn} is not {suffix}"
    );
    assert_eq!(v["$ref"]["attr"], attr, "{v}");
}

fn alarms(plan: &Plan) -> BTreeMap<String, &Value> {
    of_type(plan, "aws:cloudwatch/MetricAlarm")
        .into_iter()
        .map(|a| (a["alarm_name"].as_str().unwrap().to_string(), a))
        .collect()
}

fn alarm<'a>(all: &BTreeMap<String, &'a Value>, env: &str, name: &str) -> &'a Value {
    let full = format!("morket-{env}-{name}");
    all.get(&full)
        .unwrap_or_else(|| panic!("no alarm {full} in {:?}", all.keys()))
}

/// A single-metric alarm's metric, statistic (`pNN` is an extended one),
/// evaluation and comparison.
#[allow(clippy::too_many_arguments)]
fn assert_metric(
    a: &Value,
    namespace: &str,
    metric: &str,
    stat: &str,
    period: i64,
    evaluation_periods: i64,
    comparison: &str,
    threshold: f64,
    missing: &str,
) {
    let name = &a["alarm_name"];
    assert_eq!(a["namespace"], namespace, "{name}");
    assert_eq!(a["metric_name"], metric, "{name}");
    if stat.starts_with('p') {
        assert_eq!(a["extended_statistic"], stat, "{name}");
        assert!(a.get("statistic").is_none(), "{name}");
    } else {
        assert_eq!(a["statistic"], stat, "{name}");
        assert!(a.get("extended_statistic").is_none(), "{name}");
    }
    assert_eq!(a["period"], period, "{name}");
    assert_eq!(a["evaluation_periods"], evaluation_periods, "{name}");
    assert_eq!(a["comparison_operator"], comparison, "{name}");
    assert_eq!(a["threshold"].as_f64(), Some(threshold), "{name}");
    assert_eq!(a["treat_missing_data"], missing, "{name}");
    assert_eq!(a["metric_query"], serde_json::json!([]), "{name}");
}

fn dimension_names(a: &Value) -> Vec<&str> {
    a["dimensions"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect()
}

/// Every alarm name the stack declares for `env`, given its Redis node count.
fn all_alarm_names(env: &str, redis_nodes: usize) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for (label, _) in SERVICES {
        names.push(format!("{label}-cpu"));
        names.push(format!("{label}-memory"));
    }
    names.push("alb-5xx-rate".into());
    names.push("alb-backend-response-time".into());
    names.push("alb-scraper-response-time".into());
    for role in ["writer", "reader"] {
        names.push(format!("aurora-{role}-cpu"));
        names.push(format!("aurora-{role}-freeable-memory"));
    }
    for i in 1..=redis_nodes {
        names.push(format!("redis-{i:03}-cpu"));
    }
    names.push("clickhouse-cpu".into());
    names.push("backend-errors".into());
    let mut names: Vec<String> = names
        .into_iter()
        .map(|n| format!("morket-{env}-{n}"))
        .collect();
    names.sort();
    names
}

#[test]
fn r16_2_exactly_the_listed_alarms_per_environment() {
    for (env, redis_nodes) in [("staging", 1), ("production", 2)] {
        let plan = preview(&load(env));
        let names: Vec<String> = alarms(&plan).keys().cloned().collect();
        assert_eq!(names, all_alarm_names(env, redis_nodes), "{env}");
    }
}

#[test]
fn r16_3_one_topic_that_every_alarm_notifies() {
    for env in ENVS {
        let plan = preview(&load(env));
        let topics = of_type(&plan, "aws:sns/Topic");
        assert_eq!(topics.len(), 1, "{env}");
        assert_eq!(topics[0]["name"], format!("morket-{env}-alarms"));
        assert_eq!(topics[0]["tags"]["Name"], format!("morket-{env}-alarms"));
        // Neither file sets `[alarms] email`: no subscription.
        assert_eq!(count_type(&plan, "aws:sns/TopicSubscription"), 0, "{env}");
        let all = alarms(&plan);
        assert!(!all.is_empty());
        for (name, a) in all {
            for f in ["alarm_actions", "ok_actions"] {
                let actions = a[f].as_array().unwrap();
                assert_eq!(actions.len(), 1, "{name}.{f}");
                assert_ref(&actions[0], TOPIC, "arn");
            }
            assert_eq!(a["actions_enabled"], true, "{name}");
            // Tagged like the other resources (defaults come from the provider).
            assert_eq!(a["tags"]["Name"], name.as_str(), "{name}");
            assert!(a["alarm_description"].as_str().unwrap().contains("R16."));
        }
    }
}

#[test]
fn r16_3_email_subscription_only_when_configured() {
    for (env, line) in [
        ("staging", "log_retention_days = 30"),
        ("production", "log_retention_days = 90"),
    ] {
        let loaded = load_edited(
            env,
            line,
            &format!("{line}\n\n[alarms]\nemail = \"oncall@morket.io\"\n"),
        )
        .unwrap();
        let plan = preview(&loaded);
        let subs = of_type(&plan, "aws:sns/TopicSubscription");
        assert_eq!(subs.len(), 1, "{env}");
        assert_eq!(subs[0]["protocol"], "email");
        assert_eq!(subs[0]["endpoint"], "oncall@morket.io");
        assert_ref(&subs[0]["topic_arn"], TOPIC, "arn");

        let err = load_edited(
            env,
            line,
            &format!("{line}\n\n[alarms]\nemail = \"oncall\"\n"),
        )
        .err()
        .expect("an address without @ is refused");
        assert!(err.contains("alarms.email"), "{err}");
    }
}

#[test]
fn r16_2_ecs_service_cpu_and_memory_above_80_percent() {
    for env in ENVS {
        let plan = preview(&load(env));
        let all = alarms(&plan);
        for (label, service) in SERVICES {
            for (what, metric) in [("cpu", "CPUUtilization"), ("memory", "MemoryUtilization")] {
                let a = alarm(&all, env, &format!("{label}-{what}"));
                assert_metric(
                    a,
                    "AWS/ECS",
                    metric,
                    "Average",
                    300,
                    2,
                    "GreaterThanThreshold",
                    80.0,
                    "notBreaching",
                );
                assert_eq!(dimension_names(a), ["ClusterName", "ServiceName"]);
                assert_ref(&a["dimensions"]["ClusterName"], ECS_CLUSTER, "name");
                assert_ref(&a["dimensions"]["ServiceName"], service, "name");
            }
        }
    }
}

#[test]
fn r16_2_alb_5xx_rate_above_5_percent_over_5_minutes() {
    for env in ENVS {
        let plan = preview(&load(env));
        let all = alarms(&plan);
        let a = alarm(&all, env, "alb-5xx-rate");
        // Metric math: no single metric on the alarm itself.
        for f in ["namespace", "metric_name", "statistic", "period"] {
            assert!(a.get(f).is_none(), "{f}");
        }
        assert_eq!(a["comparison_operator"], "GreaterThanThreshold");
        assert_eq!(a["threshold"].as_f64(), Some(5.0));
        assert_eq!(a["evaluation_periods"], 1);
        assert_eq!(a["treat_missing_data"], "notBreaching");
        let queries: BTreeMap<&str, &Value> = a["metric_query"]
            .as_array()
            .unwrap()
            .iter()
            .map(|q| (q["id"].as_str().unwrap(), q))
            .collect();
        assert_eq!(
            queries.keys().copied().collect::<Vec<_>>(),
            ["elb5xx", "rate", "requests", "target5xx"]
        );
        for (id, metric) in [
            ("elb5xx", "HTTPCode_ELB_5XX_Count"),
            ("target5xx", "HTTPCode_Target_5XX_Count"),
            ("requests", "RequestCount"),
        ] {
            let q = queries[id];
            assert_eq!(q["return_data"], false, "{id}");
            let m = &q["metric"];
            assert_eq!(m["namespace"], "AWS/ApplicationELB", "{id}");
            assert_eq!(m["metric_name"], metric, "{id}");
            assert_eq!(m["stat"], "Sum", "{id}");
            assert_eq!(m["period"], 300, "{id}");
            assert_eq!(dimension_names(m), ["LoadBalancer"], "{id}");
            assert_ref(&m["dimensions"]["LoadBalancer"], ALB, "arn_suffix");
        }
        let rate = queries["rate"];
        assert_eq!(rate["return_data"], true);
        let e = rate["expression"].as_str().unwrap();
        // (ELB 5xx + target 5xx) / requests * 100, minutes without errors
        // counting as 0, and no traffic as 0 % ...
        assert!(
            e.contains("100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / FILL(requests, 0)"),
            "{e}"
        );
        assert!(e.starts_with("IF(FILL(requests, 0) > 0,"), "{e}");
        // ... except when the ALB answers 5xx without routing anything.
        assert!(e.ends_with("IF(FILL(elb5xx, 0) > 0, 100, 0))"), "{e}");
    }
}

#[test]
fn r16_2_alb_target_response_time_above_2_seconds() {
    for env in ENVS {
        let plan = preview(&load(env));
        let all = alarms(&plan);
        for label in ["backend", "scraper"] {
            let a = alarm(&all, env, &format!("alb-{label}-response-time"));
            assert_metric(
                a,
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "p95",
                300,
                1,
                "GreaterThanThreshold",
                2.0,
                "notBreaching",
            );
            assert_eq!(dimension_names(a), ["LoadBalancer", "TargetGroup"]);
            assert_ref(&a["dimensions"]["LoadBalancer"], ALB, "arn_suffix");
            assert_ref(
                &a["dimensions"]["TargetGroup"],
                &format!("alb::aws:lb/TargetGroup::{label}"),
                "arn_suffix",
            );
        }
    }
}

#[test]
fn r16_2_aurora_cpu_and_freeable_memory_per_role() {
    for env in ENVS {
        let plan = preview(&load(env));
        let all = alarms(&plan);
        for role in ["WRITER", "READER"] {
            let r = role.to_lowercase();
            let cpu = alarm(&all, env, &format!("aurora-{r}-cpu"));
            assert_metric(
                cpu,
                "AWS/RDS",
                "CPUUtilization",
                "Average",
                300,
                2,
                "GreaterThanThreshold",
                80.0,
                "missing",
            );
            let mem = alarm(&all, env, &format!("aurora-{r}-freeable-memory"));
            // 500 MB in bytes, the metric's unit; the lowest instance of the role.
            assert_metric(
                mem,
                "AWS/RDS",
                "FreeableMemory",
                "Minimum",
                300,
                2,
                "LessThanThreshold",
                524_288_000.0,
                "missing",
            );
            for a in [cpu, mem] {
                assert_eq!(dimension_names(a), ["DBClusterIdentifier", "Role"]);
                assert_ref(
                    &a["dimensions"]["DBClusterIdentifier"],
                    AURORA,
                    "cluster_identifier",
                );
                assert_eq!(a["dimensions"]["Role"], role);
            }
        }
    }
    // No reader, no reader alarms (nor dashboard lines).
    let plan = preview(&load_edited("staging", "reader_count = 1", "reader_count = 0").unwrap());
    let names: Vec<String> = alarms(&plan).keys().cloned().collect();
    assert!(names.contains(&"morket-staging-aurora-writer-cpu".to_string()));
    assert!(!names.iter().any(|n| n.contains("reader")), "{names:?}");
    let body = declared(&plan, "observability::aws:cloudwatch/Dashboard::dashboard");
    assert!(!body.to_string().contains("READER"));
}

#[test]
fn r16_2_redis_engine_cpu_above_70_percent_per_node() {
    for (env, nodes) in [("staging", 1), ("production", 2)] {
        let plan = preview(&load(env));
        let all = alarms(&plan);
        for i in 1..=nodes {
            let a = alarm(&all, env, &format!("redis-{i:03}-cpu"));
            assert_metric(
                a,
                "AWS/ElastiCache",
                "EngineCPUUtilization",
                "Average",
                300,
                2,
                "GreaterThanThreshold",
                70.0,
                "missing",
            );
            assert_eq!(dimension_names(a), ["CacheClusterId"]);
            // The member AWS names after the replication group.
            assert_eq!(
                joined(&a["dimensions"]["CacheClusterId"]),
                format!("<ref:replication-group.id>-{i:03}")
            );
        }
    }
}

#[test]
fn r16_2_clickhouse_instance_cpu_above_80_percent() {
    for env in ENVS {
        let plan = preview(&load(env));
        let all = alarms(&plan);
        let a = alarm(&all, env, "clickhouse-cpu");
        assert_metric(
            a,
            "AWS/EC2",
            "CPUUtilization",
            "Average",
            300,
            2,
            "GreaterThanThreshold",
            80.0,
            "missing",
        );
        assert_eq!(dimension_names(a), ["InstanceId"]);
        assert_ref(&a["dimensions"]["InstanceId"], CLICKHOUSE, "id");
    }
}

/// CloudWatch Logs' `?term ?"quoted term"` filter syntax: an event matches
/// when it contains any of the terms (case-sensitive).
fn any_term_matches(pattern: &str, event: &str) -> bool {
    let mut terms = Vec::new();
    let mut chars = pattern.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            ' ' => continue,
            '?' => {}
            c => panic!("unexpected {c:?} in {pattern}"),
        }
        let mut term = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => term.push(chars.next().unwrap()),
                    '"' => break,
                    c => term.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied().filter(|c| *c != ' ') {
                term.push(c);
                chars.next();
            }
        }
        terms.push(term);
    }
    terms.iter().any(|t| event.contains(t.as_str()))
}

#[test]
fn r16_6_backend_error_entries_counted_and_alarmed_above_10_per_minute() {
    for env in ENVS {
        let loaded = load(env);
        let plan = preview(&loaded);
        let f = declared(
            &plan,
            "observability::aws:logs/MetricFilter::backend-errors",
        );
        assert_eq!(f["name"], format!("morket-{env}-backend-errors"));
        assert_ref(
            &f["log_group_name"],
            "services::aws:logs/LogGroup::backend-logs",
            "name",
        );
        let pattern = f["pattern"].as_str().unwrap();
        assert_eq!(pattern, r#"?ERROR ?"\"level\":\"error\"""#);
        for (event, counted) in [
            (r#"{"level":"error","msg":"db down"}"#, true),
            ("ERROR unhandled rejection", true),
            (r#"{"level":"ERROR","msg":"x"}"#, true),
            (r#"{"level":"info","msg":"ok"}"#, false),
            (r#"{"level":"warn","msg":"retrying after error"}"#, false),
        ] {
            assert_eq!(any_term_matches(pattern, event), counted, "{event}");
        }
        let t = &f["metric_transformation"];
        let ns = format!("Morket/{env}");
        assert_eq!(t["namespace"], ns.as_str());
        assert_eq!(t["name"], "BackendErrors");
        assert_eq!(t["value"], "1");
        assert_eq!(t["default_value"].as_f64(), Some(0.0));

        let all = alarms(&plan);
        let a = alarm(&all, env, "backend-errors");
        assert_metric(
            a,
            &ns,
            "BackendErrors",
            "Sum",
            60,
            1,
            "GreaterThanThreshold",
            10.0,
            "notBreaching",
        );
        assert!(dimension_names(a).is_empty());
        assert!(depends_on(
            &loaded,
            "observability::aws:cloudwatch/MetricAlarm::backend-errors"
        )
        .iter()
        .any(|u| u.ends_with("aws:logs/MetricFilter::backend-errors")));
    }
}

/// A dashboard metric line: namespace, metric, dimensions.
struct Line<'a> {
    title: String,
    namespace: &'a str,
    metric: &'a str,
    dims: BTreeMap<&'a str, &'a Value>,
}

fn metric_lines(d: &Value) -> (Vec<Line<'_>>, Vec<String>) {
    let mut lines = Vec::new();
    let mut expressions = Vec::new();
    for w in d["widgets"].as_array().unwrap() {
        if w["type"] != "metric" {
            continue;
        }
        let p = &w["properties"];
        let title = p["title"].as_str().unwrap().to_string();
        for l in p["metrics"].as_array().unwrap() {
            let l = l.as_array().unwrap();
            if let Some(e) = l[0].get("expression") {
                expressions.push(e.as_str().unwrap().to_string());
                continue;
            }
            let parts: Vec<&Value> = l
                .iter()
                .filter(|v| !v.is_object() || v.get("$ref").is_some() || v.get("$concat").is_some())
                .collect();
            let dims = parts[2..]
                .chunks(2)
                .map(|kv| (kv[0].as_str().unwrap(), kv[1]))
                .collect();
            lines.push(Line {
                title: title.clone(),
                namespace: parts[0].as_str().unwrap(),
                metric: parts[1].as_str().unwrap(),
                dims,
            });
        }
    }
    (lines, expressions)
}

#[test]
fn r16_4_dashboard_shows_every_required_metric() {
    for (env, nodes) in [("staging", 1), ("production", 2)] {
        let plan = preview(&load(env));
        let d = declared(&plan, "observability::aws:cloudwatch/Dashboard::dashboard");
        assert_eq!(d["dashboard_name"], format!("morket-{env}-overview"));
        let (lines, expressions) = metric_lines(d);
        let find = |ns: &str, metric: &str| -> Vec<&Line> {
            let found: Vec<&Line> = lines
                .iter()
                .filter(|l| l.namespace == ns && l.metric == metric)
                .collect();
            assert!(
                !found.is_empty(),
                "{env}: no {ns} {metric} on the dashboard"
            );
            found
        };

        // ECS task counts and CPU/memory, per service.
        for (ns, metric) in [
            ("ECS/ContainerInsights", "RunningTaskCount"),
            ("AWS/ECS", "CPUUtilization"),
            ("AWS/ECS", "MemoryUtilization"),
        ] {
            let found = find(ns, metric);
            assert_eq!(found.len(), SERVICES.len(), "{metric}");
            for ((_, service), l) in SERVICES.iter().zip(&found) {
                assert_ref(l.dims["ClusterName"], ECS_CLUSTER, "name");
                assert_ref(l.dims["ServiceName"], service, "name");
            }
        }

        // ALB request count and error counts and rates.
        for metric in [
            "RequestCount",
            "HTTPCode_ELB_4XX_Count",
            "HTTPCode_Target_4XX_Count",
            "HTTPCode_ELB_5XX_Count",
            "HTTPCode_Target_5XX_Count",
            "TargetResponseTime",
        ] {
            for l in find("AWS/ApplicationELB", metric) {
                assert_ref(l.dims["LoadBalancer"], ALB, "arn_suffix");
            }
        }
        assert!(
            expressions
                .iter()
                .any(|e| e.contains("(FILL(elb5xx, 0) + FILL(target5xx, 0)) / FILL(requests, 0)")),
            "{expressions:?}"
        );
        assert!(
            expressions
                .iter()
                .any(|e| e.contains("(FILL(elb4xx, 0) + FILL(target4xx, 0)) / FILL(requests, 0)")),
            "{expressions:?}"
        );

        // Aurora connections and latency.
        for metric in ["DatabaseConnections", "ReadLatency", "WriteLatency"] {
            let found = find("AWS/RDS", metric);
            let mut roles: Vec<&str> = found
                .iter()
                .map(|l| {
                    assert_ref(l.dims["DBClusterIdentifier"], AURORA, "cluster_identifier");
                    l.dims["Role"].as_str().unwrap()
                })
                .collect();
            roles.sort();
            assert_eq!(roles, ["READER", "WRITER"], "{metric}");
        }

        // Redis hit rate and memory, every node.
        for metric in ["CacheHitRate", "DatabaseMemoryUsagePercentage"] {
            let ids: Vec<String> = find("AWS/ElastiCache", metric)
                .iter()
                .map(|l| joined(l.dims["CacheClusterId"]))
                .collect();
            let want: Vec<String> = (1..=nodes)
                .map(|i| format!("<ref:replication-group.id>-{i:03}"))
                .collect();
            assert_eq!(ids, want, "{env} {metric}");
        }

        // OpenSearch health and indexing rate (AWS/ES, domain and account).
        for metric in [
            "ClusterStatus.green",
            "ClusterStatus.yellow",
            "ClusterStatus.red",
            "IndexingRate",
        ] {
            for l in find("AWS/ES", metric) {
                assert_ref(
                    l.dims["DomainName"],
                    "opensearch::aws:opensearch/Domain::domain",
                    "domain_name",
                );
                assert_ref(
                    l.dims["ClientId"],
                    "account::aws:sts/getCallerIdentity::caller",
                    "account_id",
                );
            }
        }

        // ClickHouse: the instance's EC2 metrics, and the query metrics the
        // host must publish, said so on the dashboard.
        let ns = format!("Morket/{env}");
        for (namespace, metric) in [
            ("AWS/EC2", "CPUUtilization"),
            ("AWS/EC2", "NetworkIn"),
            (ns.as_str(), "ClickHouseQueries"),
            (ns.as_str(), "ClickHouseQueryDurationMs"),
        ] {
            for l in find(namespace, metric) {
                assert_ref(l.dims["InstanceId"], CLICKHOUSE, "id");
                assert!(l.title.starts_with("ClickHouse"), "{}", l.title);
            }
        }
        let texts: Vec<&str> = d["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["type"] == "text")
            .map(|w| w["properties"]["markdown"].as_str().unwrap())
            .collect();
        assert!(
            texts.iter().any(|t| t.contains("publishes nothing")
                && t.contains(&format!("`{ns}`"))
                && t.contains("ClickHouseQueries")),
            "{texts:?}"
        );
        find(&ns, "BackendErrors");

        // Every alarm's state, and a layout CloudWatch accepts.
        let alarm_widget = d["widgets"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["type"] == "alarm")
            .expect("an alarm status widget");
        assert_eq!(
            alarm_widget["properties"]["alarms"]
                .as_array()
                .unwrap()
                .len(),
            alarms(&plan).len()
        );
        let mut cells = std::collections::BTreeSet::new();
        for w in d["widgets"].as_array().unwrap() {
            let (x, y, width, height) = (
                w["x"].as_i64().unwrap(),
                w["y"].as_i64().unwrap(),
                w["width"].as_i64().unwrap(),
                w["height"].as_i64().unwrap(),
            );
            assert!(x + width <= 24, "{w}");
            for cx in x..x + width {
                for cy in y..y + height {
                    assert!(cells.insert((cx, cy)), "widgets overlap at {cx},{cy}");
                }
            }
            if w["type"] == "metric" {
                assert_eq!(w["properties"]["region"], "us-east-1");
            }
        }
    }
}
