//! The one place an AWS request is sent: a rate-limit token per request (and
//! per page), the service's client, the send, a `tracing` record, and the
//! error mapped once. Retry policies for what real AWS does between calls
//! (eventual consistency, IAM propagation, state conflicts, lingering network
//! interfaces) are values ([`Retry`]) the type file names at the call site.

use std::future::Future;
use std::marker::PhantomData;
use std::time::{Duration, Instant};

use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::error;
use super::service::Service;
use super::tags::{self, Tags};
use super::{Aws, AwsSettings};
use crate::provider::{Ctx, ProviderError};

/// A failed request: the AWS code and message kept for retry decisions.
#[derive(Debug, Clone)]
pub struct Failure {
    pub code: String,
    pub message: String,
    pub error: ProviderError,
}

/// Which failures a retry covers.
#[derive(Debug, Clone, Copy)]
pub enum On {
    /// Any of these codes (state conflicts, `DependencyViolation`).
    Codes(&'static [&'static str]),
    /// This code with a message containing the text (IAM propagation, whose
    /// codes are the validation codes).
    Message(&'static str, &'static str),
    /// A not-found answer: a just-created id not yet visible everywhere.
    NotFound,
}

/// Sends a request again while it fails with `on`, for at most `budget` of
/// AWS time (scaled by [`AwsSettings::time_scale`]).
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    pub on: On,
    pub budget: Duration,
}

impl Retry {
    /// A just-created object named in a follow-up call (Terraform's
    /// `RetryWhenNewResourceNotFound`, 2 minutes).
    pub const NEW_OBJECT: Retry = Retry {
        on: On::NotFound,
        budget: Duration::from_secs(120),
    };

    /// A role a service cannot assume yet (Terraform's
    /// `iamPropagationTimeout`, 2 minutes).
    pub const fn propagation(code: &'static str, text: &'static str) -> Retry {
        Retry {
            on: On::Message(code, text),
            budget: Duration::from_secs(120),
        }
    }

    /// A resource busy with another change (`InvalidDBClusterStateFault`, ...).
    pub const fn conflict(codes: &'static [&'static str], budget: Duration) -> Retry {
        Retry {
            on: On::Codes(codes),
            budget,
        }
    }

    /// `DependencyViolation` on a delete while AWS releases the network
    /// interfaces of deleted data stores; the budget is
    /// [`AwsSettings::delete_timeout`].
    pub fn dependency(settings: &AwsSettings) -> Retry {
        Retry {
            on: On::Codes(&["DependencyViolation"]),
            budget: settings.delete_timeout,
        }
    }

    fn covers(&self, f: &Failure) -> bool {
        match self.on {
            On::Codes(codes) => codes.contains(&f.code.as_str()),
            On::Message(code, text) => f.code == code && f.message.contains(text),
            On::NotFound => matches!(f.error, ProviderError::NotFound(_)),
        }
    }
}

/// How long a throttled request is sent again (AWS time) before the
/// engine's own retry of the whole operation takes over.
pub const THROTTLE_BUDGET: Duration = Duration::from_secs(120);

/// Backoff between the attempts of a [`Retry`] or the polls of a wait:
/// `first`, growing by half each time up to `max` (AWS time).
pub(crate) fn backoff(settings: &AwsSettings, attempt: u32) -> Duration {
    let first = Duration::from_secs(1);
    let max = Duration::from_secs(10);
    let d = first.mul_f64(1.5f64.powi(attempt.min(20) as i32)).min(max);
    settings.scaled(d)
}

/// The calls of one provider operation on one resource, through service `S`.
pub struct Call<'a, S> {
    pub aws: &'a Aws,
    pub ctx: &'a Ctx,
    _service: PhantomData<fn() -> S>,
}

impl<S> Clone for Call<'_, S> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<S> Copy for Call<'_, S> {}

impl<'a, S: Service> Call<'a, S> {
    pub fn new(aws: &'a Aws, ctx: &'a Ctx) -> Self {
        Call {
            aws,
            ctx,
            _service: PhantomData,
        }
    }

    /// The same resource through another service (a flow log reads its role).
    pub fn with<T: Service>(&self) -> Call<'a, T> {
        Call::new(self.aws, self.ctx)
    }

    pub fn settings(&self) -> &'a AwsSettings {
        &self.aws.settings
    }

    pub async fn client(&self) -> &'a S::Client {
        S::client(self.aws).await
    }

    /// One request of `op`.
    pub async fn send<O, E, R, F, Fut>(&self, op: &'static str, f: F) -> Result<O, ProviderError>
    where
        F: Fn(&'a S::Client) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        self.attempt(op, 1, f).await.map_err(|f| f.error)
    }

    /// One request of `op`, keeping the AWS code of a failure for the caller
    /// to decide on (an `AlreadyExists` that names our own object).
    pub async fn try_send<O, E, R, F, Fut>(&self, op: &'static str, f: F) -> Result<O, Failure>
    where
        F: Fn(&'a S::Client) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        self.attempt(op, 1, f).await
    }

    /// One request of a describe or get: not-found is `None`.
    pub async fn find<O, E, R, F, Fut>(
        &self,
        op: &'static str,
        f: F,
    ) -> Result<Option<O>, ProviderError>
    where
        F: Fn(&'a S::Client) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        match self.attempt(op, 1, f).await {
            Ok(o) => Ok(Some(o)),
            Err(Failure {
                error: ProviderError::NotFound(_),
                ..
            }) => Ok(None),
            Err(f) => Err(f.error),
        }
    }

    /// A request sent again while it fails as one of `retries` covers, each
    /// within its own budget; other failures end it at once.
    pub async fn send_retrying<O, E, R, F, Fut>(
        &self,
        op: &'static str,
        retries: &[Retry],
        f: F,
    ) -> Result<O, ProviderError>
    where
        F: Fn(&'a S::Client) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        self.try_send_retrying(op, retries, f)
            .await
            .map_err(|f| f.error)
    }

    /// [`Call::send_retrying`], keeping the AWS code of the final failure
    /// (an `AlreadyExists` that may name our own object).
    pub async fn try_send_retrying<O, E, R, F, Fut>(
        &self,
        op: &'static str,
        retries: &[Retry],
        f: F,
    ) -> Result<O, Failure>
    where
        F: Fn(&'a S::Client) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let start = Instant::now();
        let mut attempt = 1;
        loop {
            match self.attempt(op, attempt, &f).await {
                Ok(o) => return Ok(o),
                Err(fail) => {
                    let within = retries.iter().any(|r| {
                        r.covers(&fail) && start.elapsed() < self.settings().scaled(r.budget)
                    });
                    if !within {
                        return Err(fail);
                    }
                    tokio::time::sleep(backoff(self.settings(), attempt - 1)).await;
                    attempt += 1;
                }
            }
        }
    }

    /// Every page of an SDK paginator, a token per page.
    pub async fn pages<O, E, R>(
        &self,
        op: &'static str,
        mut stream: PaginationStream<Result<O, SdkError<E, R>>>,
    ) -> Result<Vec<O>, ProviderError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let mut out = Vec::new();
        loop {
            S::bucket(self.aws, op).acquire().await;
            let started = Instant::now();
            match stream.next().await {
                None => return Ok(out),
                Some(r) => {
                    let r = r.map_err(|e| self.failure(op, e));
                    self.log(op, out.len() as u32 + 1, &r, started);
                    out.push(r.map_err(|f| f.error)?);
                }
            }
        }
    }

    /// `arn:<partition>:<service>:<region>:<account>:<resource>` in this
    /// client's region, for objects whose API returns no ARN.
    pub async fn arn(&self, service: &str, account: &str, resource: &str) -> String {
        let region = self
            .aws
            .config()
            .await
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let partition = if region.starts_with("cn-") {
            "aws-cn"
        } else if region.starts_with("us-gov-") {
            "aws-us-gov"
        } else {
            "aws"
        };
        format!("arn:{partition}:{service}:{region}:{account}:{resource}")
    }

    /// An error about this resource; the URN is printed by whoever reports it.
    pub fn fatal(&self, msg: impl Into<String>) -> ProviderError {
        ProviderError::Fatal(msg.into())
    }

    /// Defaults, the resource's own tags and the engine's tags, for a create call.
    pub fn all_tags(&self, own: &Tags) -> Tags {
        tags::merged(&self.settings().default_tags, own, self.ctx)
    }

    /// The part of live tags the declaration owns.
    pub fn own_tags(&self, live: &Tags) -> Tags {
        tags::own_view(&self.settings().default_tags, live)
    }

    /// Applies a change of the resource's own tags to `key` (id or ARN).
    pub async fn update_tags(
        &self,
        key: &str,
        old: &Tags,
        new: &Tags,
    ) -> Result<(), ProviderError> {
        let (set, remove) = tags::own_changes(&self.settings().default_tags, old, new, self.ctx);
        if set.is_empty() && remove.is_empty() {
            return Ok(());
        }
        S::retag(self, key, &set, &remove).await
    }

    /// One request, sent again while AWS throttles it beyond the SDK's own
    /// retries (nothing ran, so even a create is safe to resend), for
    /// [`THROTTLE_BUDGET`] of AWS time.
    async fn attempt<O, E, R, F, Fut>(&self, op: &'static str, n: u32, f: F) -> Result<O, Failure>
    where
        F: Fn(&'a S::Client) -> Fut,
        Fut: Future<Output = Result<O, SdkError<E, R>>>,
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let start = Instant::now();
        let mut throttled = 0;
        loop {
            S::bucket(self.aws, op).acquire().await;
            let client = self.client().await;
            let started = Instant::now();
            let r = f(client).await.map_err(|e| self.failure(op, e));
            self.log(op, n + throttled, &r, started);
            match r {
                Err(Failure {
                    error: ProviderError::Throttled(_),
                    ..
                }) if start.elapsed() < self.settings().scaled(THROTTLE_BUDGET) => {
                    tokio::time::sleep(backoff(self.settings(), throttled)).await;
                    throttled += 1;
                }
                r => return r,
            }
        }
    }

    fn failure<E, R>(&self, op: &str, e: SdkError<E, R>) -> Failure
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        Failure {
            code: e.code().unwrap_or_default().to_string(),
            message: e.message().unwrap_or_default().to_string(),
            error: error::map_op(op, e),
        }
    }

    // Operation names and codes only: request and response bodies may hold secrets.
    fn log<O>(&self, op: &str, attempt: u32, r: &Result<O, Failure>, started: Instant) {
        let ms = started.elapsed().as_millis() as u64;
        match r {
            Ok(_) => tracing::debug!(
                target: "morket_stack::aws",
                service = S::NAME, op, urn = %self.ctx.urn, attempt, status = "ok", ms
            ),
            Err(f) => tracing::info!(
                target: "morket_stack::aws",
                service = S::NAME, op, urn = %self.ctx.urn, attempt,
                status = if f.code.is_empty() { "error" } else { f.code.as_str() }, ms,
                "{}", f.message
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_to_ten_seconds_and_scales() {
        let mut s = AwsSettings::default();
        assert_eq!(backoff(&s, 0), Duration::from_secs(1));
        assert_eq!(backoff(&s, 1), Duration::from_millis(1500));
        assert_eq!(backoff(&s, 30), Duration::from_secs(10));
        s.time_scale = 0.01;
        assert_eq!(backoff(&s, 30), Duration::from_millis(100));
    }

    #[test]
    fn retries_cover_what_they_name() {
        let f = |code: &str, message: &str, error: ProviderError| Failure {
            code: code.into(),
            message: message.into(),
            error,
        };
        let assume = f(
            "InvalidParameter",
            "Unable to assume given IAM role",
            ProviderError::invalid("x", "y", "z"),
        );
        let other = f(
            "InvalidParameter",
            "bad cidr",
            ProviderError::invalid("x", "y", "z"),
        );
        let r = Retry::propagation("InvalidParameter", "Unable to assume given IAM role");
        assert!(r.covers(&assume));
        assert!(!r.covers(&other));
        let gone = f(
            "InvalidVpcID.NotFound",
            "",
            ProviderError::NotFound("vpc".into()),
        );
        assert!(Retry::NEW_OBJECT.covers(&gone));
        assert!(!Retry::NEW_OBJECT.covers(&other));
        let dv = f(
            "DependencyViolation",
            "",
            ProviderError::Retryable("dv".into()),
        );
        assert!(Retry::dependency(&AwsSettings::default()).covers(&dv));
        assert!(!Retry::dependency(&AwsSettings::default()).covers(&gone));
    }
}
