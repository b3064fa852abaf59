//! Observability component (R16.2–R16.4, R16.6): an SNS topic every alarm
//! notifies (with an email subscription when `[alarms] email` is set), the
//! alarms of R16.2, an ERROR-count metric filter on the backend log group with
//! its alarm, and one dashboard built from typed widgets. The log groups and
//! the awslogs driver (R16.1, R16.5) belong to the services component.
//!
//! The topic is not encrypted: CloudWatch cannot publish to a topic under the
//! AWS-managed `alias/aws/sns` key (its key policy does not admit
//! cloudwatch.amazonaws.com); encryption needs a customer key whose policy
//! does.

use morket_stack::model::{Input, ModelError, Resource, ResourceOptions, Scope};
use morket_stack::provider::aws::cloudwatch::dashboard::{
    Dashboard, MetricLine, MetricWidget, Widget,
};
use morket_stack::provider::aws::cloudwatch::metric_alarm::{
    MetricAlarm, MetricQuery, QueryMetric,
};
use morket_stack::provider::aws::logs::metric_filter::MetricFilter;
use morket_stack::provider::aws::sns::topic::Topic;
use morket_stack::provider::aws::sns::topic_subscription::TopicSubscription;

use super::account::Account;
use super::aurora::Aurora;
use super::clickhouse::Clickhouse;
use super::config::MorketConfig;
use super::network::name_tag;
use super::opensearch::Opensearch;
use super::redis::Redis;

/// What the services and the load balancer give the alarms and dashboard.
pub struct Watched {
    /// The ECS cluster's name (`ClusterName` dimension).
    pub cluster_name: Input<String>,
    /// (label, ECS service name): backend, scraper, temporal-worker,
    /// temporal-server (`ServiceName` dimension).
    pub services: Vec<(&'static str, Input<String>)>,
    /// The ALB's ARN suffix (`LoadBalancer` dimension, `app/<name>/<id>`).
    pub alb_arn_suffix: Input<String>,
    /// (label, target group ARN suffix): backend, scraper (`TargetGroup`).
    pub target_groups: Vec<(&'static str, Input<String>)>,
    /// The backend's log group name (ERROR metric filter, R16.6).
    pub backend_log_group: Input<String>,
}

pub struct Observed<'a> {
    pub account: &'a Account,
    pub aurora: &'a Aurora,
    pub redis: &'a Redis,
    pub clickhouse: &'a Clickhouse,
    pub opensearch: &'a Opensearch,
}

/// Seconds per datapoint of the R16.2 alarms.
pub const PERIOD: i32 = 300;
/// Periods a saturation alarm (CPU, memory) must breach in a row: 10 minutes,
/// so a deploy or a burst that service auto scaling absorbs does not page.
pub const SUSTAINED: i32 = 2;
/// R16.2: Aurora freeable memory floor, 500 MB in bytes.
pub const AURORA_FREEABLE_MEMORY_BYTES: f64 = 500.0 * 1024.0 * 1024.0;

/// R16.6: backend log events at ERROR level. The backend logs JSON
/// (`"level":"error"`); a plain-text line (a crash before the logger is up,
/// a library writing to stderr) says `ERROR`. `?` terms match either; the
/// quoted term escapes its inner quotes as the filter syntax wants.
pub const ERROR_PATTERN: &str = r#"?ERROR ?"\"level\":\"error\"""#;
/// Metric the filter counts into (namespace `Morket/<env>`).
pub const ERROR_METRIC: &str = "BackendErrors";
/// R16.6: errors per minute above which the alarm fires.
pub const ERROR_THRESHOLD: f64 = 10.0;

/// ClickHouse on EC2 publishes nothing to CloudWatch by itself: these are
/// the metrics (namespace `Morket/<env>`, dimension `InstanceId`) a timer
/// on the host puts every minute from `system.query_log` (clickhouse.rs).
pub const CLICKHOUSE_QUERIES: &str = "ClickHouseQueries";
pub const CLICKHOUSE_QUERY_DURATION: &str = "ClickHouseQueryDurationMs";

/// The ALB 5xx rate in percent: ELB and target 5xx over requests. FILL makes
/// a minute without errors count as 0; no traffic is 0 %, not an alarm; 5xx
/// with no request routed (every target down: ELB 503s are not counted in
/// RequestCount) is 100 %.
pub const ALB_5XX_RATE: &str = "IF(FILL(requests, 0) > 0, \
     100 * (FILL(elb5xx, 0) + FILL(target5xx, 0)) / FILL(requests, 0), \
     IF(FILL(elb5xx, 0) > 0, 100, 0))";

/// The namespace of the stack's own metrics.
pub fn namespace(cfg: &MorketConfig) -> String {
    format!("Morket/{}", cfg.environment)
}

/// Declares alarms that all notify the topic.
struct Alarms<'c, 's> {
    c: &'c mut Scope<'s>,
    cfg: &'c MorketConfig,
    topic: Input<String>,
    arns: Vec<Input<String>>,
}

impl Alarms<'_, '_> {
    /// `name` is the resource name and, with the environment, the alarm name.
    fn add(
        &mut self,
        name: &str,
        description: &str,
        mut alarm: MetricAlarm,
        opts: ResourceOptions,
    ) -> Result<Resource<MetricAlarm>, ModelError> {
        alarm.alarm_name = self.cfg.name(name);
        alarm.alarm_description = Some(description.into());
        alarm.alarm_actions = vec![self.topic.clone()];
        alarm.ok_actions = vec![self.topic.clone()];
        alarm.tags = name_tag(self.cfg, name);
        let r = self.c.resource_with(name, alarm, opts)?;
        self.arns.push(r.arn().into());
        Ok(r)
    }
}

fn dims(
    alarm: MetricAlarm,
    dimensions: &[(&str, Input<String>)],
    evaluation_periods: i32,
    treat_missing_data: &str,
) -> MetricAlarm {
    MetricAlarm {
        dimensions: dimensions
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
        evaluation_periods,
        treat_missing_data: treat_missing_data.into(),
        ..alarm
    }
}

/// Aurora roles with instances: alarms go by role, as AWS advises (an
/// instance's role changes on failover), and cover every instance of it.
fn aurora_roles(cfg: &MorketConfig) -> Vec<&'static str> {
    let mut roles = vec!["WRITER"];
    if cfg.aurora.reader_count > 0 {
        roles.push("READER");
    }
    roles
}

/// The replication group's cache clusters: AWS names them
/// `<replication group id>-001`, `-002`, ... (cluster mode disabled).
fn redis_members(cfg: &MorketConfig, redis: &Redis) -> Vec<(String, Input<String>)> {
    (1..=cfg.redis.num_cache_clusters)
        .map(|i| {
            let suffix = format!("{i:03}");
            let id = Input::interpolate(
                &format!("{{rg}}-{suffix}"),
                &[("rg", redis.replication_group.id().into())],
            );
            (suffix, id)
        })
        .collect()
}

pub fn declare(
    scope: &mut Scope<'_>,
    cfg: &MorketConfig,
    watched: &Watched,
    data: &Observed<'_>,
) -> Result<(), ModelError> {
    let mut c = scope.component("morket:Observability", "observability")?;

    // R16.3
    let mut topic = Topic::new(&cfg.name("alarms"));
    topic.display_name = Some(format!("Morket {} alarms", cfg.environment));
    topic.tags = name_tag(cfg, "alarms");
    let topic = c.resource("alarms", topic)?;
    if let Some(email) = &cfg.alarms.email {
        // Pending until the recipient confirms the mail AWS sends.
        c.resource("alarms-email", TopicSubscription::email(topic.arn(), email))?;
    }

    let mut alarms = Alarms {
        c: &mut c,
        cfg,
        topic: topic.arn().into(),
        arns: Vec::new(),
    };
    let gt = "GreaterThanThreshold";

    // R16.2, data stores. They publish every minute while they run: a gap
    // means the resource is gone or stopped, shown as INSUFFICIENT_DATA
    // ("missing") rather than hidden as OK.
    let cluster_id: Input<String> = data.aurora.cluster.cluster_identifier().into();
    for role in aurora_roles(cfg) {
        let r = role.to_lowercase();
        let d = [
            ("DBClusterIdentifier", cluster_id.clone()),
            ("Role", role.into()),
        ];
        alarms.add(
            &format!("aurora-{r}-cpu"),
            &format!("Aurora {r} CPU above 80 % for 10 minutes (R16.2)"),
            dims(
                MetricAlarm::on_metric(
                    "",
                    "AWS/RDS",
                    "CPUUtilization",
                    "Average",
                    PERIOD,
                    gt,
                    80.0,
                ),
                &d,
                SUSTAINED,
                "missing",
            ),
            ResourceOptions::new(),
        )?;
        // Minimum: the instance of the role with the least memory left.
        alarms.add(
            &format!("aurora-{r}-freeable-memory"),
            &format!("Aurora {r} freeable memory below 500 MB for 10 minutes (R16.2)"),
            dims(
                MetricAlarm::on_metric(
                    "",
                    "AWS/RDS",
                    "FreeableMemory",
                    "Minimum",
                    PERIOD,
                    "LessThanThreshold",
                    AURORA_FREEABLE_MEMORY_BYTES,
                ),
                &d,
                SUSTAINED,
                "missing",
            ),
            ResourceOptions::new(),
        )?;
    }

    // Redis is single-threaded: EngineCPUUtilization is the Redis thread's
    // own load, so 70 % means 70 % of what the node can serve. Host
    // CPUUtilization on these 2-vCPU nodes would read about half of that.
    for (suffix, member) in redis_members(cfg, data.redis) {
        alarms.add(
            &format!("redis-{suffix}-cpu"),
            &format!("Redis node {suffix} engine CPU above 70 % for 10 minutes (R16.2)"),
            dims(
                MetricAlarm::on_metric(
                    "",
                    "AWS/ElastiCache",
                    "EngineCPUUtilization",
                    "Average",
                    PERIOD,
                    gt,
                    70.0,
                ),
                &[("CacheClusterId", member)],
                SUSTAINED,
                "missing",
            ),
            ResourceOptions::new(),
        )?;
    }

    // EC2 basic monitoring publishes every 5 minutes.
    let clickhouse_id: Input<String> = data.clickhouse.instance.id().into();
    alarms.add(
        "clickhouse-cpu",
        "ClickHouse EC2 instance CPU above 80 % for 10 minutes (R16.2)",
        dims(
            MetricAlarm::on_metric("", "AWS/EC2", "CPUUtilization", "Average", PERIOD, gt, 80.0),
            &[("InstanceId", clickhouse_id.clone())],
            SUSTAINED,
            "missing",
        ),
        ResourceOptions::new(),
    )?;

    // R16.2, ECS. A service scaled to zero publishes nothing: no data is
    // not a hot service ("notBreaching").
    for (label, service) in &watched.services {
        for (what, metric) in [("cpu", "CPUUtilization"), ("memory", "MemoryUtilization")] {
            alarms.add(
                &format!("{label}-{what}"),
                &format!("ECS service {label} {what} above 80 % for 10 minutes (R16.2)"),
                dims(
                    MetricAlarm::on_metric("", "AWS/ECS", metric, "Average", PERIOD, gt, 80.0),
                    &[
                        ("ClusterName", watched.cluster_name.clone()),
                        ("ServiceName", service.clone()),
                    ],
                    SUSTAINED,
                    "notBreaching",
                ),
                ResourceOptions::new(),
            )?;
        }
    }

    // R16.2, ALB. Its metrics exist only when requests come in: no traffic
    // is neither errors nor slowness ("notBreaching").
    let lb = &watched.alb_arn_suffix;
    let alb = |metric: &str| {
        QueryMetric::new("AWS/ApplicationELB", metric, "Sum", PERIOD)
            .dimension("LoadBalancer", lb.clone())
    };
    let mut rate = MetricAlarm::on_queries(
        "",
        vec![
            MetricQuery::metric("elb5xx", alb("HTTPCode_ELB_5XX_Count")),
            MetricQuery::metric("target5xx", alb("HTTPCode_Target_5XX_Count")),
            MetricQuery::metric("requests", alb("RequestCount")),
            MetricQuery::expression("rate", ALB_5XX_RATE, "5xx rate (%)"),
        ],
        gt,
        5.0,
    );
    rate.treat_missing_data = "notBreaching".into();
    alarms.add(
        "alb-5xx-rate",
        "ALB 5xx responses above 5 % of requests over 5 minutes (R16.2)",
        rate,
        ResourceOptions::new(),
    )?;
    // p95, not Average: an average stays under 2 s while one request in ten
    // takes far longer; p95 says 19 of 20 requests answer within 2 s. Per
    // target group, so a slow service is named.
    for (label, tg) in &watched.target_groups {
        let mut a = dims(
            MetricAlarm::on_metric(
                "",
                "AWS/ApplicationELB",
                "TargetResponseTime",
                "Average",
                PERIOD,
                gt,
                2.0,
            ),
            &[("LoadBalancer", lb.clone()), ("TargetGroup", tg.clone())],
            1,
            "notBreaching",
        );
        a.statistic = None;
        a.extended_statistic = Some("p95".into());
        alarms.add(
            &format!("alb-{label}-response-time"),
            &format!("ALB {label} target response time p95 above 2 s over 5 minutes (R16.2)"),
            a,
            ResourceOptions::new(),
        )?;
    }

    // R16.6
    let ns = namespace(cfg);
    let filter = alarms.c.resource(
        "backend-errors",
        MetricFilter::count(
            &cfg.name("backend-errors"),
            watched.backend_log_group.clone(),
            ERROR_PATTERN,
            &ns,
            ERROR_METRIC,
        ),
    )?;
    // Minutes without log events publish nothing: no errors.
    alarms.add(
        "backend-errors",
        "Backend ERROR log entries above 10 per minute (R16.6)",
        dims(
            MetricAlarm::on_metric("", &ns, ERROR_METRIC, "Sum", 60, gt, ERROR_THRESHOLD),
            &[],
            1,
            "notBreaching",
        ),
        ResourceOptions::new().depends_on(&filter),
    )?;

    // R16.4
    let arns = std::mem::take(&mut alarms.arns);
    let widgets = dashboard(cfg, watched, data, &ns, clickhouse_id, arns);
    c.resource("dashboard", Dashboard::new(&cfg.name("overview"), widgets))?;
    Ok(())
}

/// Lays widgets out left to right, wrapping at 24 columns.
struct Grid {
    x: i32,
    y: i32,
    row_height: i32,
    widgets: Vec<Widget>,
}

const HEIGHT: i32 = 6;

impl Grid {
    fn next(&mut self, width: i32, height: i32) -> (i32, i32) {
        if self.x + width > 24 {
            self.x = 0;
            self.y += self.row_height;
            self.row_height = 0;
        }
        let at = (self.x, self.y);
        self.x += width;
        self.row_height = self.row_height.max(height);
        at
    }

    fn graph(&mut self, width: i32, w: MetricWidget) {
        let (x, y) = self.next(width, HEIGHT);
        self.widgets.push(Widget::metric(x, y, width, HEIGHT, w));
    }
}

fn graph(
    title: &str,
    cfg: &MorketConfig,
    stat: &str,
    period: i32,
    lines: Vec<MetricLine>,
) -> MetricWidget {
    let mut w = MetricWidget::new(title, &cfg.region, lines);
    w.stat = Some(stat.into());
    w.period = Some(period);
    w
}

fn labelled(line: MetricLine, label: &str) -> MetricLine {
    line.with(|o| o.label = Some(label.into()))
}

fn hidden(line: MetricLine, id: &str) -> MetricLine {
    line.with(|o| {
        o.id = Some(id.into());
        o.visible = Some(false);
    })
}

fn dashboard(
    cfg: &MorketConfig,
    watched: &Watched,
    data: &Observed<'_>,
    ns: &str,
    clickhouse_id: Input<String>,
    alarm_arns: Vec<Input<String>>,
) -> Vec<Widget> {
    let mut g = Grid {
        x: 0,
        y: 0,
        row_height: 0,
        widgets: Vec::new(),
    };

    // ECS: task counts (Container Insights, on for the cluster) and CPU/memory.
    let per_service = |namespace: &str, metric: &str| -> Vec<MetricLine> {
        watched
            .services
            .iter()
            .map(|(label, service)| {
                labelled(
                    MetricLine::metric(namespace, metric)
                        .dimension("ClusterName", watched.cluster_name.clone())
                        .dimension("ServiceName", service.clone()),
                    label,
                )
            })
            .collect()
    };
    if !watched.services.is_empty() {
        g.graph(
            8,
            graph(
                "ECS running tasks",
                cfg,
                "Average",
                60,
                per_service("ECS/ContainerInsights", "RunningTaskCount"),
            ),
        );
        g.graph(
            8,
            graph(
                "ECS CPU utilization (%)",
                cfg,
                "Average",
                60,
                per_service("AWS/ECS", "CPUUtilization"),
            ),
        );
        g.graph(
            8,
            graph(
                "ECS memory utilization (%)",
                cfg,
                "Average",
                60,
                per_service("AWS/ECS", "MemoryUtilization"),
            ),
        );
    }

    // ALB: requests, error counts and rates, response time.
    let lb = || watched.alb_arn_suffix.clone();
    let alb = |metric: &str| {
        MetricLine::metric("AWS/ApplicationELB", metric).dimension("LoadBalancer", lb())
    };
    let mut requests = vec![labelled(alb("RequestCount"), "all")];
    for (label, tg) in &watched.target_groups {
        requests.push(labelled(
            alb("RequestCount").dimension("TargetGroup", tg.clone()),
            label,
        ));
    }
    g.graph(8, graph("ALB requests", cfg, "Sum", 60, requests));
    g.graph(
        8,
        graph(
            "ALB errors",
            cfg,
            "Sum",
            60,
            vec![
                alb("HTTPCode_ELB_4XX_Count"),
                alb("HTTPCode_Target_4XX_Count"),
                alb("HTTPCode_ELB_5XX_Count"),
                alb("HTTPCode_Target_5XX_Count"),
            ],
        ),
    );
    g.graph(
        8,
        graph(
            "ALB error rate (%)",
            cfg,
            "Sum",
            PERIOD,
            vec![
                hidden(alb("RequestCount"), "requests"),
                hidden(alb("HTTPCode_ELB_4XX_Count"), "elb4xx"),
                hidden(alb("HTTPCode_Target_4XX_Count"), "target4xx"),
                hidden(alb("HTTPCode_ELB_5XX_Count"), "elb5xx"),
                hidden(alb("HTTPCode_Target_5XX_Count"), "target5xx"),
                MetricLine::expression(
                    "IF(FILL(requests, 0) > 0, 100 * (FILL(elb4xx, 0) + FILL(target4xx, 0)) / FILL(requests, 0), 0)",
                    "4xx rate",
                    "rate4xx",
                ),
                MetricLine::expression(ALB_5XX_RATE, "5xx rate", "rate5xx"),
            ],
        ),
    );
    if !watched.target_groups.is_empty() {
        let mut lines = Vec::new();
        for (label, tg) in &watched.target_groups {
            for stat in ["p95", "Average"] {
                lines.push(
                    alb("TargetResponseTime")
                        .dimension("TargetGroup", tg.clone())
                        .with(|o| {
                            o.stat = Some(stat.into());
                            o.label = Some(format!("{label} {stat}"));
                        }),
                );
            }
        }
        g.graph(
            8,
            graph("ALB target response time (s)", cfg, "Average", 60, lines),
        );
    }
    g.graph(
        8,
        graph(
            "Backend ERROR log entries per minute",
            cfg,
            "Sum",
            60,
            vec![MetricLine::metric(ns, ERROR_METRIC)],
        ),
    );

    // Aurora: connections and latency, per role. Aurora PostgreSQL publishes
    // no per-query latency to CloudWatch: storage read/write latency and
    // commit latency stand for it (statements: Performance Insights).
    let cluster_id: Input<String> = data.aurora.cluster.cluster_identifier().into();
    let rds = |metric: &str, role: &str| {
        MetricLine::metric("AWS/RDS", metric)
            .dimension("DBClusterIdentifier", cluster_id.clone())
            .dimension("Role", role)
    };
    let roles = aurora_roles(cfg);
    g.graph(
        8,
        graph(
            "Aurora connections",
            cfg,
            "Average",
            60,
            roles
                .iter()
                .map(|r| labelled(rds("DatabaseConnections", r), r))
                .collect(),
        ),
    );
    let mut latency = Vec::new();
    for r in &roles {
        latency.push(labelled(rds("ReadLatency", r), &format!("{r} read (s)")));
        latency.push(labelled(rds("WriteLatency", r), &format!("{r} write (s)")));
    }
    latency.push(rds("CommitLatency", "WRITER").with(|o| {
        o.label = Some("WRITER commit (ms)".into());
        o.y_axis = Some("right".into());
    }));
    g.graph(8, graph("Aurora latency", cfg, "Average", 60, latency));

    // Redis: hit rate and memory, per node.
    let members = redis_members(cfg, data.redis);
    let redis = |metric: &str| -> Vec<MetricLine> {
        members
            .iter()
            .map(|(suffix, id)| {
                labelled(
                    MetricLine::metric("AWS/ElastiCache", metric)
                        .dimension("CacheClusterId", id.clone()),
                    suffix,
                )
            })
            .collect()
    };
    g.graph(
        12,
        graph(
            "Redis cache hit rate (%)",
            cfg,
            "Average",
            60,
            redis("CacheHitRate"),
        ),
    );
    g.graph(
        12,
        graph(
            "Redis memory used (%)",
            cfg,
            "Average",
            60,
            redis("DatabaseMemoryUsagePercentage"),
        ),
    );

    // OpenSearch: health (1 while the cluster is in that state) and indexing.
    let os = |metric: &str| {
        MetricLine::metric("AWS/ES", metric)
            .dimension("DomainName", data.opensearch.domain.domain_name())
            .dimension("ClientId", data.account.caller.account_id())
    };
    g.graph(
        12,
        graph(
            "OpenSearch cluster health",
            cfg,
            "Maximum",
            60,
            vec![
                labelled(os("ClusterStatus.green"), "green")
                    .with(|o| o.color = Some("#2ca02c".into())),
                labelled(os("ClusterStatus.yellow"), "yellow")
                    .with(|o| o.color = Some("#ffbb00".into())),
                labelled(os("ClusterStatus.red"), "red").with(|o| o.color = Some("#d62728".into())),
            ],
        ),
    );
    g.graph(
        12,
        graph(
            "OpenSearch indexing rate (ops/min)",
            cfg,
            "Average",
            60,
            vec![os("IndexingRate")],
        ),
    );

    // ClickHouse: the host's own EC2 metrics, and the query metrics a
    // publisher on the host puts in the stack's namespace (none yet).
    let ec2 = |metric: &str| {
        MetricLine::metric("AWS/EC2", metric).dimension("InstanceId", clickhouse_id.clone())
    };
    let ch = |metric: &str| {
        MetricLine::metric(ns, metric).dimension("InstanceId", clickhouse_id.clone())
    };
    g.graph(
        8,
        graph(
            "ClickHouse host (EC2)",
            cfg,
            "Average",
            PERIOD,
            vec![
                labelled(ec2("CPUUtilization"), "CPU (%)"),
                ec2("NetworkIn").with(|o| {
                    o.stat = Some("Sum".into());
                    o.y_axis = Some("right".into());
                }),
                ec2("NetworkOut").with(|o| {
                    o.stat = Some("Sum".into());
                    o.y_axis = Some("right".into());
                }),
            ],
        ),
    );
    g.graph(
        8,
        graph(
            "ClickHouse queries per minute",
            cfg,
            "Sum",
            60,
            vec![ch(CLICKHOUSE_QUERIES)],
        ),
    );
    g.graph(
        8,
        graph(
            "ClickHouse query duration (ms)",
            cfg,
            "Average",
            60,
            vec![ch(CLICKHOUSE_QUERY_DURATION)],
        ),
    );
    let (x, y) = g.next(24, 3);
    g.widgets.push(Widget::text(
        x,
        y,
        24,
        3,
        format!(
            "**ClickHouse query metrics.** ClickHouse on EC2 publishes nothing to CloudWatch \
             itself: a timer on the instance puts `{ns}` / `{CLICKHOUSE_QUERIES}` (queries \
             finished in the minute, from `system.query_log`) and `{CLICKHOUSE_QUERY_DURATION}` \
             (their mean `query_duration_ms`), dimension `InstanceId`, every minute with the \
             instance role. The host graph (CPU, network) is AWS's own."
        ),
    ));
    if !alarm_arns.is_empty() {
        let (x, y) = g.next(24, HEIGHT);
        g.widgets
            .push(Widget::alarms(x, y, 24, HEIGHT, "Alarms", alarm_arns));
    }
    g.widgets
}
