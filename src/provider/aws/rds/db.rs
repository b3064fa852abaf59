//! What Aurora clusters, Aurora instances and plain instances share: a
//! describe by identifier, a status to wait on, a paginated listing to find
//! them by their URN tag, and a delete that waits until they are gone. The
//! [`Db`] trait picks the SDK calls (DescribeDBClusters or DescribeDBInstances
//! and so on); the waits and the delete are written once, here.

use std::time::Instant;

use async_trait::async_trait;
use aws_sdk_rds::types::{DbCluster as RdsCluster, DbInstance as RdsInstance, Tag};

use super::cluster::{final_snapshot_name, protected_error};
use super::{has_urn, none_if_gone};
use crate::provider::aws::{error, Aws};
use crate::provider::{Ctx, ProviderError};

/// A cluster or an instance as the RDS API describes it.
#[async_trait]
pub(crate) trait Db: Clone + Send + Sync + 'static {
    /// `cluster` or `instance`, for messages.
    const NOUN: &'static str;

    /// The status (`available`, `deleting`, ...).
    fn status(&self) -> Option<&str>;

    fn tags(&self) -> &[Tag];

    /// By identifier; `None` when it does not exist.
    async fn describe(aws: &Aws, ctx: &Ctx, id: &str) -> Result<Option<Self>, ProviderError>;

    /// One page of all of them in the account, and the marker of the next.
    async fn page(
        aws: &Aws,
        ctx: &Ctx,
        marker: Option<String>,
    ) -> Result<(Vec<Self>, Option<String>), ProviderError>;

    /// The delete call; the final-snapshot fields are sent when given.
    async fn send_delete(
        aws: &Aws,
        ctx: &Ctx,
        id: &str,
        skip_final_snapshot: Option<bool>,
        final_snapshot_identifier: Option<String>,
    ) -> Result<(), ProviderError>;
}

#[async_trait]
impl Db for RdsCluster {
    const NOUN: &'static str = "cluster";

    fn status(&self) -> Option<&str> {
        RdsCluster::status(self)
    }

    fn tags(&self) -> &[Tag] {
        self.tag_list()
    }

    async fn describe(aws: &Aws, ctx: &Ctx, id: &str) -> Result<Option<Self>, ProviderError> {
        aws.limits.rds.acquire().await;
        let r = aws
            .rds()
            .await
            .describe_db_clusters()
            .db_cluster_identifier(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeDBClusters", e));
        Ok(none_if_gone(r)?.and_then(|o| o.db_clusters().first().cloned()))
    }

    async fn page(
        aws: &Aws,
        ctx: &Ctx,
        marker: Option<String>,
    ) -> Result<(Vec<Self>, Option<String>), ProviderError> {
        aws.limits.rds.acquire().await;
        let out = aws
            .rds()
            .await
            .describe_db_clusters()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeDBClusters", e))?;
        Ok((out.db_clusters().to_vec(), out.marker().map(str::to_string)))
    }

    async fn send_delete(
        aws: &Aws,
        ctx: &Ctx,
        id: &str,
        skip_final_snapshot: Option<bool>,
        final_snapshot_identifier: Option<String>,
    ) -> Result<(), ProviderError> {
        let req = aws
            .rds()
            .await
            .delete_db_cluster()
            .db_cluster_identifier(id)
            .set_skip_final_snapshot(skip_final_snapshot)
            .set_final_db_snapshot_identifier(final_snapshot_identifier);
        aws.limits.rds.acquire().await;
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| error::map(&ctx.urn, "DeleteDBCluster", e))
    }
}

#[async_trait]
impl Db for RdsInstance {
    const NOUN: &'static str = "instance";

    fn status(&self) -> Option<&str> {
        self.db_instance_status()
    }

    fn tags(&self) -> &[Tag] {
        self.tag_list()
    }

    async fn describe(aws: &Aws, ctx: &Ctx, id: &str) -> Result<Option<Self>, ProviderError> {
        aws.limits.rds.acquire().await;
        let r = aws
            .rds()
            .await
            .describe_db_instances()
            .db_instance_identifier(id)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeDBInstances", e));
        Ok(none_if_gone(r)?.and_then(|o| o.db_instances().first().cloned()))
    }

    async fn page(
        aws: &Aws,
        ctx: &Ctx,
        marker: Option<String>,
    ) -> Result<(Vec<Self>, Option<String>), ProviderError> {
        aws.limits.rds.acquire().await;
        let out = aws
            .rds()
            .await
            .describe_db_instances()
            .set_marker(marker)
            .send()
            .await
            .map_err(|e| error::map(&ctx.urn, "DescribeDBInstances", e))?;
        Ok((
            out.db_instances().to_vec(),
            out.marker().map(str::to_string),
        ))
    }

    async fn send_delete(
        aws: &Aws,
        ctx: &Ctx,
        id: &str,
        skip_final_snapshot: Option<bool>,
        final_snapshot_identifier: Option<String>,
    ) -> Result<(), ProviderError> {
        let req = aws
            .rds()
            .await
            .delete_db_instance()
            .db_instance_identifier(id)
            .set_skip_final_snapshot(skip_final_snapshot)
            .set_final_db_snapshot_identifier(final_snapshot_identifier);
        aws.limits.rds.acquire().await;
        req.send()
            .await
            .map(|_| ())
            .map_err(|e| error::map(&ctx.urn, "DeleteDBInstance", e))
    }
}

/// The live resource for a read: `None` when it is gone or being deleted.
pub(crate) async fn describe_live<T: Db>(
    aws: &Aws,
    ctx: &Ctx,
    id: &str,
) -> Result<Option<T>, ProviderError> {
    Ok(T::describe(aws, ctx, id)
        .await?
        .filter(|t| t.status() != Some("deleting")))
}

/// Every one carrying this resource's URN tag (all pages), except those being deleted.
pub(crate) async fn find_tagged<T: Db>(aws: &Aws, ctx: &Ctx) -> Result<Vec<T>, ProviderError> {
    let mut found = Vec::new();
    let mut marker: Option<String> = None;
    loop {
        let (page, next) = T::page(aws, ctx, marker).await?;
        found.extend(
            page.into_iter()
                .filter(|t| has_urn(ctx, t.tags()) && t.status() != Some("deleting")),
        );
        marker = next;
        if marker.is_none() {
            break;
        }
    }
    Ok(found)
}

/// Waits until `id` is available (after a create or a modify) and returns it.
pub(crate) async fn wait_available<T: Db>(
    aws: &Aws,
    ctx: &Ctx,
    id: &str,
) -> Result<T, ProviderError> {
    wait::<T>(aws, ctx, id, Want::Available)
        .await?
        .ok_or_else(|| disappeared(ctx, &what::<T>(id)))
}

/// How clusters and plain instances are deleted (Aurora instances take none
/// of it: the cluster's backups cover them).
pub(crate) struct Deletion<'a> {
    pub deletion_protection: bool,
    pub skip_final_snapshot: bool,
    pub final_snapshot_identifier: &'a Option<String>,
}

/// Deletes `id` and waits until it is gone; deleting what is gone is success.
/// With `deletion`, a protected resource is refused before any call and a
/// final snapshot is taken unless skipped.
pub(crate) async fn delete<T: Db>(
    aws: &Aws,
    ctx: &Ctx,
    id: &str,
    deletion: Option<Deletion<'_>>,
) -> Result<(), ProviderError> {
    let what = what::<T>(id);
    let sent = match deletion {
        None => none_if_gone(T::send_delete(aws, ctx, id, None, None).await)?,
        Some(d) => {
            if d.deletion_protection {
                return Err(ProviderError::Fatal(format!(
                    "{}: cannot delete {what}: deletion_protection = true; set it to false and apply before deleting",
                    ctx.urn
                )));
            }
            let snapshot = (!d.skip_final_snapshot)
                .then(|| final_snapshot_name(id, d.final_snapshot_identifier));
            let r = T::send_delete(aws, ctx, id, Some(d.skip_final_snapshot), snapshot).await;
            none_if_gone(r).map_err(|e| protected_error(ctx, &what, e))?
        }
    };
    if sent.is_none() {
        return Ok(());
    }
    wait::<T>(aws, ctx, id, Want::Gone).await.map(|_| ())
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Available,
    Gone,
}

/// `DB cluster <id>` or `DB instance <id>`.
fn what<T: Db>(id: &str) -> String {
    format!("DB {} {id}", T::NOUN)
}

fn disappeared(ctx: &Ctx, what: &str) -> ProviderError {
    ProviderError::NotFound(format!(
        "{}: {what} disappeared while waiting for it to become available",
        ctx.urn
    ))
}

/// Polls until `id` reaches the wanted state, within the wait timeout. Returns
/// what it found last (`None` once gone).
async fn wait<T: Db>(
    aws: &Aws,
    ctx: &Ctx,
    id: &str,
    want: Want,
) -> Result<Option<T>, ProviderError> {
    let what = what::<T>(id);
    let start = Instant::now();
    loop {
        let item = T::describe(aws, ctx, id).await?;
        let state = item
            .as_ref()
            .map(|t| t.status().unwrap_or("unknown").to_string());
        match (&want, state.as_deref()) {
            (Want::Gone, None) => return Ok(None),
            (Want::Available, None) => return Err(disappeared(ctx, &what)),
            (Want::Available, Some("available")) => return Ok(item),
            (
                Want::Available,
                Some(
                    s @ ("failed"
                    | "incompatible-parameters"
                    | "incompatible-network"
                    | "incompatible-restore"
                    | "inaccessible-encryption-credentials"
                    | "storage-full"),
                ),
            ) => {
                return Err(ProviderError::Fatal(format!(
                    "{}: {what} is in state {s:?}, not available",
                    ctx.urn
                )))
            }
            _ => {}
        }
        if start.elapsed() >= aws.settings.wait_timeout {
            let target = match want {
                Want::Available => "available",
                Want::Gone => "deleted",
            };
            return Err(ProviderError::Fatal(format!(
                "{}: timed out after {:?} waiting for {what} to be {target}; last state {:?}",
                ctx.urn,
                aws.settings.wait_timeout,
                state.as_deref().unwrap_or("deleted")
            )));
        }
        tokio::time::sleep(aws.settings.poll_interval).await;
    }
}
