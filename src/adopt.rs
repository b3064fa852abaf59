//! Finding objects again: what an interrupted or failed create left behind.
//! Before a create is issued again, or a pending create is settled, the
//! object is looked up by its URN tag (or natural key); an empty answer
//! proves absence only once the provider's lookup lag has passed since the
//! create call, because tag-filtered describes lag on AWS.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::Value;

use crate::exec::{Cancel, Event, EventSink};
use crate::provider::{Created, Ctx, Provider, ProviderError, ReadResult};

/// What a lookup by URN found among objects state does not track.
#[derive(Debug, Clone, PartialEq)]
pub enum Lookup {
    Absent,
    Found(Created),
    /// Several untracked objects carry this URN: leftovers of earlier
    /// failures. Picking one could adopt a stale orphan, so none is.
    Ambiguous(Vec<String>),
}

impl Lookup {
    /// The error for an ambiguous lookup, naming the objects.
    pub fn ambiguity(ctx: &Ctx, ids: &[String]) -> ProviderError {
        ProviderError::Fatal(format!(
            "{}: {} objects carry this resource's URN tag and none is in state ({}); \
             refusing to pick one: delete the ones that should not exist, then run again",
            ctx.urn,
            ids.len(),
            ids.join(", ")
        ))
    }
}

/// One lookup; ids in `tracked` (the row, the old half being replaced and the
/// condemned old halves of this URN) are not candidates: adopting the old half of a replacement as the
/// new one would delete the live resource.
pub async fn look_up(
    provider: &dyn Provider,
    ctx: &Ctx,
    inputs: &Value,
    tracked: &[String],
) -> Result<Lookup, ProviderError> {
    let mut found: Vec<Created> = provider
        .find_by_urn(ctx, inputs)
        .await?
        .into_iter()
        .filter(|c| !tracked.contains(&c.id))
        .collect();
    Ok(match found.len() {
        0 => Lookup::Absent,
        1 => Lookup::Found(found.remove(0)),
        _ => Lookup::Ambiguous(found.into_iter().map(|c| c.id).collect()),
    })
}

/// Looks up; if nothing is found before `created + lag` (the type's lookup
/// lag, `Registry::lookup_lag`), waits until
/// then and looks once more, so that `Absent` is proof. `None` when
/// cancelled during the wait (nothing is proven).
#[allow(clippy::too_many_arguments)]
pub async fn look_up_settled(
    provider: &dyn Provider,
    ctx: &Ctx,
    inputs: &Value,
    tracked: &[String],
    created: SystemTime,
    lag: Duration,
    cancel: Option<&Cancel>,
    events: &Arc<dyn EventSink>,
) -> Result<Option<Lookup>, ProviderError> {
    let first = look_up(provider, ctx, inputs, tracked).await?;
    if first != Lookup::Absent {
        return Ok(Some(first));
    }
    let settled_at = created + lag;
    let Ok(wait) = settled_at.duration_since(SystemTime::now()) else {
        return Ok(Some(first));
    };
    events.event(&Event::WaitingForLookup {
        urn: ctx.urn.clone(),
        wait: Duration::from_secs(wait.as_secs() + 1),
    });
    match cancel {
        Some(c) => {
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = c.cancelled() => return Ok(None),
            }
        }
        None => tokio::time::sleep(wait).await,
    }
    look_up(provider, ctx, inputs, tracked).await.map(Some)
}

/// Reads an object back after a failure; `None` if it cannot be read (the
/// row is then tainted).
pub async fn read_back(
    provider: &dyn Provider,
    ctx: &Ctx,
    id: &str,
    inputs: &Value,
    outputs: &Value,
) -> Option<ReadResult> {
    provider.read(ctx, id, inputs, outputs).await.ok().flatten()
}
