//! One `SdkConfig` from the standard chain (env, profiles, SSO, IMDS), shared
//! by every client; retries, timeouts and client-side rate limits.

use std::sync::Arc;
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use tokio::sync::OnceCell;

use super::limits::Limits;
use super::tags::Tags;

#[derive(Debug, Clone)]
pub struct AwsSettings {
    pub region: Option<String>,
    pub profile: Option<String>,
    /// SDK attempts per call (standard retry mode; the SDK default is 3).
    pub max_attempts: u32,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    /// Tags put on every resource that supports them.
    pub default_tags: Tags,
    /// How long waiters poll before giving up.
    pub wait_timeout: Duration,
    /// Pause between waiter polls.
    pub poll_interval: Duration,
    /// How long a tag-filtered describe may miss a just-created object
    /// (see `Provider::lookup_lag`).
    pub lookup_lag: Duration,
    /// How long a delete keeps retrying `DependencyViolation` while AWS
    /// releases the network interfaces of deleted data stores and tasks
    /// (Terraform: 15 min for security groups, 20 for subnets).
    pub delete_timeout: Duration,
    /// Multiplies every AWS delay and budget the provider assumes (first-poll
    /// delays, not-found grace, propagation and conflict budgets,
    /// `delete_timeout`): 1 on AWS; tests against the AWS-like peer shrink it.
    pub time_scale: f64,
}

impl AwsSettings {
    /// An AWS duration under [`AwsSettings::time_scale`].
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.time_scale.max(0.0))
    }
}

impl Default for AwsSettings {
    fn default() -> Self {
        AwsSettings {
            region: None,
            profile: None,
            max_attempts: 10,
            attempt_timeout: Duration::from_secs(60),
            operation_timeout: Duration::from_secs(300),
            default_tags: Tags::new(),
            wait_timeout: Duration::from_secs(3600),
            poll_interval: Duration::from_secs(10),
            lookup_lag: Duration::from_secs(60),
            delete_timeout: Duration::from_secs(20 * 60),
            time_scale: 1.0,
        }
    }
}

/// The AWS connection of one engine run. Clients are made on first use, so a
/// preview that calls nothing needs no credentials.
#[derive(Debug)]
pub struct Aws {
    pub settings: AwsSettings,
    pub limits: Limits,
    config: OnceCell<SdkConfig>,
    ec2: OnceCell<aws_sdk_ec2::Client>,
    rds: OnceCell<aws_sdk_rds::Client>,
    elasticache: OnceCell<aws_sdk_elasticache::Client>,
    mq: OnceCell<aws_sdk_mq::Client>,
    opensearch: OnceCell<aws_sdk_opensearch::Client>,
    ecs: OnceCell<aws_sdk_ecs::Client>,
    iam: OnceCell<aws_sdk_iam::Client>,
    logs: OnceCell<aws_sdk_cloudwatchlogs::Client>,
    ssm: OnceCell<aws_sdk_ssm::Client>,
    sts: OnceCell<aws_sdk_sts::Client>,
    elbv2: OnceCell<aws_sdk_elasticloadbalancingv2::Client>,
    acm: OnceCell<aws_sdk_acm::Client>,
    route53: OnceCell<aws_sdk_route53::Client>,
    s3: OnceCell<aws_sdk_s3::Client>,
    cloudfront: OnceCell<aws_sdk_cloudfront::Client>,
    secretsmanager: OnceCell<aws_sdk_secretsmanager::Client>,
    ecr: OnceCell<aws_sdk_ecr::Client>,
    appautoscaling: OnceCell<aws_sdk_applicationautoscaling::Client>,
    cloudwatch: OnceCell<aws_sdk_cloudwatch::Client>,
    sns: OnceCell<aws_sdk_sns::Client>,
    servicediscovery: OnceCell<aws_sdk_servicediscovery::Client>,
    backup: OnceCell<aws_sdk_backup::Client>,
    wafv2: OnceCell<aws_sdk_wafv2::Client>,
    tagging: OnceCell<aws_sdk_resourcegroupstagging::Client>,
    /// The same connection in other regions (a CloudFront certificate lives
    /// in us-east-1 whatever the stack's region), made on first use.
    regions: std::sync::Mutex<std::collections::HashMap<String, Arc<Aws>>>,
    /// Whether the chain gave credentials, asked once (lookups, which a
    /// preview without credentials leaves unread).
    credentials: OnceCell<Result<(), String>>,
}

impl Aws {
    pub fn new(settings: AwsSettings) -> Self {
        Aws {
            settings,
            limits: Limits::default(),
            config: OnceCell::new(),
            ec2: OnceCell::new(),
            rds: OnceCell::new(),
            elasticache: OnceCell::new(),
            mq: OnceCell::new(),
            opensearch: OnceCell::new(),
            ecs: OnceCell::new(),
            iam: OnceCell::new(),
            logs: OnceCell::new(),
            ssm: OnceCell::new(),
            sts: OnceCell::new(),
            elbv2: OnceCell::new(),
            acm: OnceCell::new(),
            route53: OnceCell::new(),
            s3: OnceCell::new(),
            cloudfront: OnceCell::new(),
            secretsmanager: OnceCell::new(),
            ecr: OnceCell::new(),
            appautoscaling: OnceCell::new(),
            cloudwatch: OnceCell::new(),
            sns: OnceCell::new(),
            servicediscovery: OnceCell::new(),
            backup: OnceCell::new(),
            wafv2: OnceCell::new(),
            tagging: OnceCell::new(),
            credentials: OnceCell::new(),
            regions: Default::default(),
        }
    }

    /// This connection in `region` (itself when `None` or its own region):
    /// the same credentials, endpoint and settings, its own clients and
    /// rate limits (AWS's limits are per region).
    pub async fn in_region(self: &Arc<Self>, region: Option<&str>) -> Arc<Aws> {
        let Some(region) = region else {
            return self.clone();
        };
        let base = self.config().await;
        if base.region().map(|r| r.as_ref()) == Some(region) {
            return self.clone();
        }
        let mut cache = self.regions.lock().expect("region cache");
        cache
            .entry(region.to_string())
            .or_insert_with(|| {
                let config = base
                    .to_builder()
                    .region(Region::new(region.to_string()))
                    .build();
                let settings = AwsSettings {
                    region: Some(region.to_string()),
                    ..self.settings.clone()
                };
                Arc::new(Aws::with_config(settings, config))
            })
            .clone()
    }

    /// Uses a ready `SdkConfig` (tests point it at a mock or at moto).
    pub fn with_config(settings: AwsSettings, config: SdkConfig) -> Self {
        let aws = Self::new(settings);
        aws.config.set(config).expect("fresh cell");
        aws
    }

    /// Uses a ready EC2 client (aws-smithy-mocks tests).
    pub fn with_ec2(self, client: aws_sdk_ec2::Client) -> Self {
        self.ec2.set(client).expect("fresh cell");
        self
    }

    /// Uses a ready RDS client (aws-smithy-mocks tests).
    pub fn with_rds(self, client: aws_sdk_rds::Client) -> Self {
        self.rds.set(client).expect("fresh cell");
        self
    }

    pub fn with_elasticache(self, client: aws_sdk_elasticache::Client) -> Self {
        self.elasticache.set(client).expect("fresh cell");
        self
    }

    pub fn with_mq(self, client: aws_sdk_mq::Client) -> Self {
        self.mq.set(client).expect("fresh cell");
        self
    }

    pub fn with_opensearch(self, client: aws_sdk_opensearch::Client) -> Self {
        self.opensearch.set(client).expect("fresh cell");
        self
    }

    pub fn with_ecs(self, client: aws_sdk_ecs::Client) -> Self {
        self.ecs.set(client).expect("fresh cell");
        self
    }

    pub fn with_iam(self, client: aws_sdk_iam::Client) -> Self {
        self.iam.set(client).expect("fresh cell");
        self
    }

    pub fn with_logs(self, client: aws_sdk_cloudwatchlogs::Client) -> Self {
        self.logs.set(client).expect("fresh cell");
        self
    }

    pub fn with_elbv2(self, client: aws_sdk_elasticloadbalancingv2::Client) -> Self {
        self.elbv2.set(client).expect("fresh cell");
        self
    }

    pub fn with_acm(self, client: aws_sdk_acm::Client) -> Self {
        self.acm.set(client).expect("fresh cell");
        self
    }

    pub fn with_route53(self, client: aws_sdk_route53::Client) -> Self {
        self.route53.set(client).expect("fresh cell");
        self
    }

    pub fn with_s3(self, client: aws_sdk_s3::Client) -> Self {
        self.s3.set(client).expect("fresh cell");
        self
    }

    pub fn with_cloudfront(self, client: aws_sdk_cloudfront::Client) -> Self {
        self.cloudfront.set(client).expect("fresh cell");
        self
    }

    pub fn with_secretsmanager(self, client: aws_sdk_secretsmanager::Client) -> Self {
        self.secretsmanager.set(client).expect("fresh cell");
        self
    }

    pub fn with_ecr(self, client: aws_sdk_ecr::Client) -> Self {
        self.ecr.set(client).expect("fresh cell");
        self
    }

    pub fn with_appautoscaling(self, client: aws_sdk_applicationautoscaling::Client) -> Self {
        self.appautoscaling.set(client).expect("fresh cell");
        self
    }

    pub fn with_cloudwatch(self, client: aws_sdk_cloudwatch::Client) -> Self {
        self.cloudwatch.set(client).expect("fresh cell");
        self
    }

    pub fn with_sns(self, client: aws_sdk_sns::Client) -> Self {
        self.sns.set(client).expect("fresh cell");
        self
    }

    pub fn with_servicediscovery(self, client: aws_sdk_servicediscovery::Client) -> Self {
        self.servicediscovery.set(client).expect("fresh cell");
        self
    }

    pub fn with_backup(self, client: aws_sdk_backup::Client) -> Self {
        self.backup.set(client).expect("fresh cell");
        self
    }

    pub fn with_wafv2(self, client: aws_sdk_wafv2::Client) -> Self {
        self.wafv2.set(client).expect("fresh cell");
        self
    }

    /// `Err` with the chain's reason when no credentials can be had.
    pub async fn credentials(&self) -> Result<(), String> {
        self.credentials
            .get_or_init(|| async {
                use aws_credential_types::provider::ProvideCredentials;
                let config = self.config().await;
                let Some(p) = config.credentials_provider() else {
                    return Err("no credentials provider is configured".to_string());
                };
                p.provide_credentials().await.map(|_| ()).map_err(|e| {
                    aws_smithy_types::error::display::DisplayErrorContext(e).to_string()
                })
            })
            .await
            .clone()
    }

    pub async fn config(&self) -> &SdkConfig {
        self.config
            .get_or_init(|| async {
                let s = &self.settings;
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .retry_config(
                        RetryConfig::standard()
                            .with_max_attempts(s.max_attempts)
                            .with_initial_backoff(Duration::from_millis(500)),
                    )
                    .timeout_config(
                        TimeoutConfig::builder()
                            .operation_attempt_timeout(s.attempt_timeout)
                            .operation_timeout(s.operation_timeout)
                            .connect_timeout(Duration::from_secs(10))
                            .build(),
                    );
                if let Some(r) = &s.region {
                    loader = loader.region(Region::new(r.clone()));
                }
                if let Some(p) = &s.profile {
                    loader = loader.profile_name(p);
                }
                loader.load().await
            })
            .await
    }

    pub async fn ec2(&self) -> &aws_sdk_ec2::Client {
        self.ec2
            .get_or_init(|| async { aws_sdk_ec2::Client::new(self.config().await) })
            .await
    }

    pub async fn rds(&self) -> &aws_sdk_rds::Client {
        self.rds
            .get_or_init(|| async { aws_sdk_rds::Client::new(self.config().await) })
            .await
    }

    pub async fn elasticache(&self) -> &aws_sdk_elasticache::Client {
        self.elasticache
            .get_or_init(|| async { aws_sdk_elasticache::Client::new(self.config().await) })
            .await
    }

    pub async fn mq(&self) -> &aws_sdk_mq::Client {
        self.mq
            .get_or_init(|| async { aws_sdk_mq::Client::new(self.config().await) })
            .await
    }

    pub async fn opensearch(&self) -> &aws_sdk_opensearch::Client {
        self.opensearch
            .get_or_init(|| async { aws_sdk_opensearch::Client::new(self.config().await) })
            .await
    }

    pub async fn ecs(&self) -> &aws_sdk_ecs::Client {
        self.ecs
            .get_or_init(|| async { aws_sdk_ecs::Client::new(self.config().await) })
            .await
    }

    /// IAM is global: the SDK resolves its one endpoint from any region.
    pub async fn iam(&self) -> &aws_sdk_iam::Client {
        self.iam
            .get_or_init(|| async { aws_sdk_iam::Client::new(self.config().await) })
            .await
    }

    pub async fn logs(&self) -> &aws_sdk_cloudwatchlogs::Client {
        self.logs
            .get_or_init(|| async { aws_sdk_cloudwatchlogs::Client::new(self.config().await) })
            .await
    }

    pub async fn ssm(&self) -> &aws_sdk_ssm::Client {
        self.ssm
            .get_or_init(|| async { aws_sdk_ssm::Client::new(self.config().await) })
            .await
    }

    pub async fn sts(&self) -> &aws_sdk_sts::Client {
        self.sts
            .get_or_init(|| async { aws_sdk_sts::Client::new(self.config().await) })
            .await
    }

    pub async fn elbv2(&self) -> &aws_sdk_elasticloadbalancingv2::Client {
        self.elbv2
            .get_or_init(|| async {
                aws_sdk_elasticloadbalancingv2::Client::new(self.config().await)
            })
            .await
    }

    pub async fn acm(&self) -> &aws_sdk_acm::Client {
        self.acm
            .get_or_init(|| async { aws_sdk_acm::Client::new(self.config().await) })
            .await
    }

    /// Route 53 is global: the SDK resolves its one endpoint from any region.
    pub async fn route53(&self) -> &aws_sdk_route53::Client {
        self.route53
            .get_or_init(|| async { aws_sdk_route53::Client::new(self.config().await) })
            .await
    }

    pub async fn s3(&self) -> &aws_sdk_s3::Client {
        self.s3
            .get_or_init(|| async {
                let config = self.config().await;
                // A local endpoint (the test peer) has no per-bucket DNS
                // names: address buckets by path there.
                let local = config.endpoint_url().is_some();
                let s3 = aws_sdk_s3::config::Builder::from(config)
                    .force_path_style(local)
                    .build();
                aws_sdk_s3::Client::from_conf(s3)
            })
            .await
    }

    /// CloudFront is global: the SDK resolves its one endpoint from any region.
    pub async fn cloudfront(&self) -> &aws_sdk_cloudfront::Client {
        self.cloudfront
            .get_or_init(|| async { aws_sdk_cloudfront::Client::new(self.config().await) })
            .await
    }

    pub async fn secretsmanager(&self) -> &aws_sdk_secretsmanager::Client {
        self.secretsmanager
            .get_or_init(|| async { aws_sdk_secretsmanager::Client::new(self.config().await) })
            .await
    }

    pub async fn ecr(&self) -> &aws_sdk_ecr::Client {
        self.ecr
            .get_or_init(|| async { aws_sdk_ecr::Client::new(self.config().await) })
            .await
    }

    pub async fn appautoscaling(&self) -> &aws_sdk_applicationautoscaling::Client {
        self.appautoscaling
            .get_or_init(|| async {
                aws_sdk_applicationautoscaling::Client::new(self.config().await)
            })
            .await
    }

    pub async fn cloudwatch(&self) -> &aws_sdk_cloudwatch::Client {
        self.cloudwatch
            .get_or_init(|| async { aws_sdk_cloudwatch::Client::new(self.config().await) })
            .await
    }

    pub async fn sns(&self) -> &aws_sdk_sns::Client {
        self.sns
            .get_or_init(|| async { aws_sdk_sns::Client::new(self.config().await) })
            .await
    }

    pub async fn servicediscovery(&self) -> &aws_sdk_servicediscovery::Client {
        self.servicediscovery
            .get_or_init(|| async { aws_sdk_servicediscovery::Client::new(self.config().await) })
            .await
    }

    pub async fn tagging(&self) -> &aws_sdk_resourcegroupstagging::Client {
        self.tagging
            .get_or_init(|| async {
                aws_sdk_resourcegroupstagging::Client::new(self.config().await)
            })
            .await
    }

    pub async fn backup(&self) -> &aws_sdk_backup::Client {
        self.backup
            .get_or_init(|| async { aws_sdk_backup::Client::new(self.config().await) })
            .await
    }

    pub async fn wafv2(&self) -> &aws_sdk_wafv2::Client {
        self.wafv2
            .get_or_init(|| async { aws_sdk_wafv2::Client::new(self.config().await) })
            .await
    }
}
