//! Request limits that are not the handlers' business: how many uploads run at once.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;
use tokio::sync::Semaphore;

/// Seconds a refused uploader is told to wait.
const RETRY_AFTER_SECONDS: &str = "5";

/// Slots for uploads in progress.
#[derive(Debug, Clone)]
pub struct UploadSlots(Arc<Semaphore>);

impl UploadSlots {
    /// `n` uploads at once.
    pub fn new(n: usize) -> Self {
        UploadSlots(Arc::new(Semaphore::new(n.max(1))))
    }
}

/// Middleware of the upload route: holds a slot while the upload (its body included) runs;
/// without a free slot, answers 503 with `Retry-After`.
pub async fn upload_slot(State(slots): State<UploadSlots>, req: Request, next: Next) -> Response {
    let Ok(_permit) = slots.0.clone().try_acquire_owned() else {
        let mut response = (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "error": "service unavailable",
                "detail": "too many uploads in progress (max_concurrent_uploads); retry later",
            })),
        )
            .into_response();
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static(RETRY_AFTER_SECONDS));
        return response;
    };
    next.run(req).await
}
