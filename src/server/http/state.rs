//! The whole state visible to the token, with its revision (what `plan` reads).

use axum::body::Body;
use axum::extract::State as AxState;
use axum::http::{header, HeaderValue};
use axum::response::{IntoResponse, Response};

use crate::model::State;
use crate::server::error::ApiResult;

use super::extract::Auth;
use super::route::{Route, Routes, Schema};
use super::AppState;

pub fn router() -> Routes {
    Routes::new("state").route(
        Route::get("/state", get_state)
            .doc(
                "getState",
                "The whole state visible to the token, with its revision",
            )
            .about(
                "Every resource the token may read, by kind and key, with the \
                 state's revision (pass it as `expected_revision` to a \
                 batch). A tenant token reads its tenant's resources only.",
            )
            .json(200, "The state", Schema::of::<State>()),
    )
}

async fn get_state(AxState(app): AxState<AppState>, Auth(p): Auth) -> ApiResult<Response> {
    let doc = app.engine.state_json(&p).await?;
    let len = doc.len();
    let chunks = doc.0.into_iter().map(Ok::<_, std::convert::Infallible>);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            ),
            (header::CONTENT_LENGTH, HeaderValue::from(len)),
        ],
        Body::from_stream(futures_util::stream::iter(chunks)),
    )
        .into_response())
}
