//! The REST handlers under `/api/v1`: each extracts, calls the core once (or
//! twice, to read back) and wraps the answer.
//!
//! Lists carry their version as a strong `ETag` (`"7"`). A write to a list may
//! send `If-Match` with the version it was based on; when the list has moved
//! on, the answer is 412 with the current `ETag` and nothing is changed.

use std::time::Duration;

use axum::extract::{FromRequest, FromRequestParts, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use grocery_core::agent::AgentReply;
use grocery_core::catalog::Product;
use grocery_core::lists::{GroceryList, ItemPatch, ListOp, Lists, Role};
use grocery_core::pricing::client::PriceAnswer;
use grocery_core::pricing::{Alert, PricePoint, PriceStats, Target, Track};
use grocery_core::{ItemId, ListId, Money, NewItem, SearchHit, UserId};
use serde::{Deserialize, Serialize};

use crate::auth::Caller;
use crate::error::ApiError;
use crate::openapi::{
    AuthErrors, BadRequest, BodyErrors, Conflict, Forbidden, GatewayTimeout, IfMatch, Internal,
    NotFound, NotUnderstood, PreconditionFailed, RateLimited, Unavailable,
};
use crate::state::AppState;

/// `Json` whose rejections are [`ApiError`]s (our JSON error shape).
#[derive(Debug, FromRequest)]
#[from_request(via(axum::Json), rejection(ApiError))]
pub struct ApiJson<T>(pub T);

/// Room reserved for a JSON answer before writing it: an agent reply or a
/// list of a dozen lines fits, where starting from `axum::Json`'s 128 bytes
/// grows the buffer five times.
const JSON_CAPACITY: usize = 4096;

impl<T: Serialize> IntoResponse for ApiJson<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(JSON_CAPACITY);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => ApiError::from(grocery_core::Error::Internal(format!(
                "answer not serializable: {e}"
            )))
            .into_response(),
        }
    }
}

/// `Path` with [`ApiError`] rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(ApiError))]
pub struct ApiPath<T>(pub T);

/// `Query` with [`ApiError`] rejections.
#[derive(Debug, FromRequestParts)]
#[from_request(via(axum::extract::Query), rejection(ApiError))]
pub struct ApiQuery<T>(pub T);

type ApiResult<T> = Result<T, ApiError>;

// ---- agent ------------------------------------------------------------

/// `POST /api/v1/agent`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AgentRequest {
    /// What the person said.
    pub text: String,
    /// Conversation name (context is kept per user and session).
    #[serde(default)]
    pub session: Option<String>,
    /// The list to act on; the session's or the default list when absent.
    #[serde(default)]
    pub list: Option<String>,
}

/// Longest agent request text, in characters.
const MAX_TEXT_CHARS: usize = 2_000;

/// Understand one sentence, change the lists it talks about and reply.
///
/// The reply has what was understood (`commands`), what was done
/// (`actions`), the list after the change, priced, and a short message.
#[utoipa::path(
    post,
    path = "/api/v1/agent",
    tag = "agent",
    request_body = AgentRequest,
    responses(
        (status = 200, description = "What the agent understood, did and says.", body = AgentReply),
        BodyErrors,
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 422, response = NotUnderstood),
        (status = 504, response = GatewayTimeout),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn agent(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiJson(body): ApiJson<AgentRequest>,
) -> ApiResult<ApiJson<AgentReply>> {
    if body.text.chars().count() > MAX_TEXT_CHARS {
        return Err(ApiError::bad_request(format!(
            "text is longer than {MAX_TEXT_CHARS} characters"
        )));
    }
    let session = body.session.as_deref().unwrap_or("default");
    Ok(ApiJson(
        app.grocery()
            .agent_for(user)
            .handle_in(session, &body.text, body.list.as_deref())
            .await?,
    ))
}

// ---- lists ------------------------------------------------------------

/// One line of a list as the API shows it: the item, its product and price.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct LineView {
    /// The item.
    #[serde(flatten)]
    pub item: grocery_core::ListItem,
    /// The product's display name, when linked.
    pub product_name: Option<String>,
    /// Packs that cover the quantity.
    pub packs: u32,
    /// Price of the packs in cents, when known.
    pub line_total_cents: Option<i64>,
}

/// A list as the API shows it.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ListView {
    /// Identifier.
    pub id: ListId,
    /// Name.
    pub name: String,
    /// What the caller may do with it.
    pub role: Role,
    /// Its owner.
    pub owner: UserId,
    /// Version (also the `ETag`).
    pub version: i64,
    /// Last change (UTC).
    #[schema(value_type = String, format = DateTime)]
    pub updated_at: jiff::Timestamp,
    /// Items, oldest first, priced.
    pub items: Vec<LineView>,
    /// Total of the unchecked, priced lines, in cents.
    pub total_cents: i64,
    /// Unchecked lines without a price.
    pub unpriced: u64,
}

fn view(lists: &Lists<'_>, list: GroceryList) -> ApiResult<ListView> {
    let (id, name, role, owner, updated_at) = (
        list.id,
        list.name.clone(),
        list.role,
        list.owner,
        list.updated_at,
    );
    let priced = lists.price(list)?;
    Ok(ListView {
        id,
        name,
        role,
        owner,
        version: priced.version,
        updated_at,
        total_cents: priced.total.cents,
        unpriced: priced.unpriced,
        items: priced
            .lines
            .into_iter()
            .map(|l| LineView {
                product_name: l.product.as_deref().map(Product::display_name),
                packs: l.packs,
                line_total_cents: l.line_total.map(|m| m.cents),
                item: l.item,
            })
            .collect(),
    })
}

/// A list answer with its `ETag`.
fn with_etag(status: StatusCode, list: ListView) -> Response {
    let etag = HeaderValue::from_str(&format!("\"{}\"", list.version));
    let mut r = (status, axum::Json(list)).into_response();
    if let Ok(v) = etag {
        r.headers_mut().insert(header::ETAG, v);
    }
    r
}

/// The version an `If-Match` header asks for; `None` without one (or `*`).
fn if_match(headers: &HeaderMap) -> ApiResult<Option<i64>> {
    let Some(v) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let v = v
        .to_str()
        .map_err(|_| ApiError::bad_request("If-Match is not text"))?
        .trim();
    if v == "*" {
        return Ok(None);
    }
    v.trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .map(Some)
        .map_err(|_| ApiError::bad_request("If-Match must be a list's ETag, like \"7\""))
}

/// The caller's lists, checked against `If-Match` for writes.
fn lists_of<'a>(app: &'a AppState, user: UserId, headers: &HeaderMap) -> ApiResult<Lists<'a>> {
    let lists = app.grocery().lists_for(user);
    Ok(match if_match(headers)? {
        Some(v) => lists.expecting(v),
        None => lists,
    })
}

/// Apply `ops` to list `id` for `user` (at the `If-Match` version when given)
/// and answer with the list as that write left it.
async fn written(
    app: &AppState,
    user: UserId,
    headers: &HeaderMap,
    id: i64,
    ops: Vec<ListOp>,
    status: StatusCode,
) -> ApiResult<Response> {
    let lists = lists_of(app, user, headers)?;
    let (_, list) = lists.apply(ListId(id), ops).await?;
    Ok(with_etag(status, view(&lists, list)?))
}

async fn read_back(
    app: &AppState,
    user: UserId,
    id: ListId,
    status: StatusCode,
) -> ApiResult<Response> {
    let lists = app.grocery().lists_for(user);
    let list = lists.get(id).await?;
    Ok(with_etag(status, view(&lists, list)?))
}

/// The lists the caller may see (owned or shared), with priced items.
#[utoipa::path(
    get,
    path = "/api/v1/lists",
    tag = "lists",
    responses(
        (status = 200, description = "The lists, each with its items and total.", body = Vec<ListView>),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn all_lists(
    State(app): State<AppState>,
    Caller(user): Caller,
) -> ApiResult<ApiJson<Vec<ListView>>> {
    let lists = app.grocery().lists_for(user);
    let out = lists
        .all_with_items()
        .await?
        .into_iter()
        .map(|l| view(&lists, l))
        .collect::<ApiResult<_>>()?;
    Ok(ApiJson(out))
}

/// `POST /api/v1/lists` and `PATCH /api/v1/lists/{id}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NameBody {
    /// The list's name.
    pub name: String,
}

/// Create a list owned by the caller.
#[utoipa::path(
    post,
    path = "/api/v1/lists",
    tag = "lists",
    request_body = NameBody,
    responses(
        (status = 201, description = "The new, empty list.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        BodyErrors,
        (status = 409, response = Conflict),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn create_list(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiJson(body): ApiJson<NameBody>,
) -> ApiResult<Response> {
    let lists = app.grocery().lists_for(user);
    let list = lists.create(&body.name).await?;
    Ok(with_etag(StatusCode::CREATED, view(&lists, list)?))
}

/// One list with its priced items and total.
///
/// 404 (not 403) for a list the caller may not see.
#[utoipa::path(
    get,
    path = "/api/v1/lists/{id}",
    tag = "lists",
    params(("id" = i64, Path, description = "The list.")),
    responses(
        (status = 200, description = "The list.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn get_list(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<Response> {
    read_back(&app, user, ListId(id), StatusCode::OK).await
}

/// Rename a list.
#[utoipa::path(
    patch,
    path = "/api/v1/lists/{id}",
    tag = "lists",
    params(("id" = i64, Path, description = "The list."), IfMatch),
    request_body = NameBody,
    responses(
        (status = 200, description = "The renamed list.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        BodyErrors,
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        (status = 409, response = Conflict),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn rename_list(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<NameBody>,
) -> ApiResult<Response> {
    let lists = lists_of(&app, user, &headers)?;
    let list = lists.rename(ListId(id), &body.name).await?;
    Ok(with_etag(StatusCode::OK, view(&lists, list)?))
}

/// Delete a list and its items.
#[utoipa::path(
    delete,
    path = "/api/v1/lists/{id}",
    tag = "lists",
    params(("id" = i64, Path, description = "The list."), IfMatch),
    responses(
        (status = 204, description = "Deleted."),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn delete_list(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    lists_of(&app, user, &headers)?.delete(ListId(id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Add an item to a list (merged into an existing line for the same thing).
#[utoipa::path(
    post,
    path = "/api/v1/lists/{id}/items",
    tag = "items",
    params(("id" = i64, Path, description = "The list."), IfMatch),
    request_body = NewItem,
    responses(
        (status = 201, description = "The list after the change.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        BodyErrors,
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn add_item(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
    ApiJson(item): ApiJson<NewItem>,
) -> ApiResult<Response> {
    let ops = vec![ListOp::Add(item)];
    written(&app, user, &headers, id, ops, StatusCode::CREATED).await
}

/// Change an item: name, quantity, note, product link or checked state.
#[utoipa::path(
    patch,
    path = "/api/v1/lists/{id}/items/{item}",
    tag = "items",
    params(("id" = i64, Path, description = "The list."), ("item" = i64, Path, description = "The item."), IfMatch),
    request_body = ItemPatch,
    responses(
        (status = 200, description = "The list after the change.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        BodyErrors,
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn update_item(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath((id, item)): ApiPath<(i64, i64)>,
    headers: HeaderMap,
    ApiJson(patch): ApiJson<ItemPatch>,
) -> ApiResult<Response> {
    let ops = vec![ListOp::Update(ItemId(item), patch)];
    written(&app, user, &headers, id, ops, StatusCode::OK).await
}

/// Remove an item from a list.
#[utoipa::path(
    delete,
    path = "/api/v1/lists/{id}/items/{item}",
    tag = "items",
    params(("id" = i64, Path, description = "The list."), ("item" = i64, Path, description = "The item."), IfMatch),
    responses(
        (status = 200, description = "The list after the change.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn remove_item(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath((id, item)): ApiPath<(i64, i64)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let ops = vec![ListOp::Remove(ItemId(item))];
    written(&app, user, &headers, id, ops, StatusCode::OK).await
}

async fn set_checked(
    app: &AppState,
    user: UserId,
    headers: &HeaderMap,
    id: i64,
    item: i64,
    checked: bool,
) -> ApiResult<Response> {
    let patch = ItemPatch {
        checked: Some(checked),
        ..ItemPatch::default()
    };
    let ops = vec![ListOp::Update(ItemId(item), patch)];
    written(app, user, headers, id, ops, StatusCode::OK).await
}

/// Check an item off.
#[utoipa::path(
    post,
    path = "/api/v1/lists/{id}/items/{item}/check",
    tag = "items",
    params(("id" = i64, Path, description = "The list."), ("item" = i64, Path, description = "The item."), IfMatch),
    responses(
        (status = 200, description = "The list after the change.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn check_item(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath((id, item)): ApiPath<(i64, i64)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    set_checked(&app, user, &headers, id, item, true).await
}

/// Put a checked item back.
#[utoipa::path(
    post,
    path = "/api/v1/lists/{id}/items/{item}/uncheck",
    tag = "items",
    params(("id" = i64, Path, description = "The list."), ("item" = i64, Path, description = "The item."), IfMatch),
    responses(
        (status = 200, description = "The list after the change.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn uncheck_item(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath((id, item)): ApiPath<(i64, i64)>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    set_checked(&app, user, &headers, id, item, false).await
}

/// Remove the checked items of a list.
#[utoipa::path(
    post,
    path = "/api/v1/lists/{id}/clear-checked",
    tag = "items",
    params(("id" = i64, Path, description = "The list."), IfMatch),
    responses(
        (status = 200, description = "The list after the change.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn clear_checked(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<i64>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    lists_of(&app, user, &headers)?
        .clear_checked(ListId(id))
        .await?;
    read_back(&app, user, ListId(id), StatusCode::OK).await
}

/// One share of a list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ShareView {
    /// The user it is shared with.
    pub user: String,
    /// Their role.
    pub role: Role,
}

/// Who a list is shared with, and as what.
#[utoipa::path(
    get,
    path = "/api/v1/lists/{id}/shares",
    tag = "sharing",
    params(("id" = i64, Path, description = "The list.")),
    responses(
        (status = 200, description = "The shares.", body = Vec<ShareView>),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn shares(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<i64>,
) -> ApiResult<ApiJson<Vec<ShareView>>> {
    let shares = app.grocery().lists_for(user).shares(ListId(id)).await?;
    Ok(ApiJson(
        shares
            .into_iter()
            .map(|(u, role)| ShareView { user: u.name, role })
            .collect(),
    ))
}

/// `PUT /api/v1/lists/{id}/shares/{user}`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShareBody {
    /// `editor` or `viewer`.
    pub role: Role,
}

/// Share a list with a user as `editor` or `viewer` (owner only), or change their role.
#[utoipa::path(
    put,
    path = "/api/v1/lists/{id}/shares/{user}",
    tag = "sharing",
    params(("id" = i64, Path, description = "The list."), ("user" = String, Path, description = "The user's name."), IfMatch),
    request_body = ShareBody,
    responses(
        (status = 200, description = "The list after the change.", body = ListView, headers(("ETag" = String, description = "The list's version, quoted: `\"7\"`."))),
        BodyErrors,
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn share(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath((id, name)): ApiPath<(i64, String)>,
    headers: HeaderMap,
    ApiJson(body): ApiJson<ShareBody>,
) -> ApiResult<Response> {
    let lists = lists_of(&app, user, &headers)?;
    // Only the owner learns whether a user name exists.
    lists.get(ListId(id)).await?;
    let with = app.grocery().users().find(&name).await?;
    let list = lists.share(ListId(id), with.id, body.role).await?;
    Ok(with_etag(StatusCode::OK, view(&lists, list)?))
}

/// Take a user's access to a list away: the owner may, and anyone may leave
/// a list shared with them.
#[utoipa::path(
    delete,
    path = "/api/v1/lists/{id}/shares/{user}",
    tag = "sharing",
    params(("id" = i64, Path, description = "The list."), ("user" = String, Path, description = "The user's name."), IfMatch),
    responses(
        (status = 204, description = "The share is gone."),
        (status = 400, response = BadRequest),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 412, response = PreconditionFailed),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn unshare(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath((id, name)): ApiPath<(i64, String)>,
    headers: HeaderMap,
) -> ApiResult<StatusCode> {
    let lists = lists_of(&app, user, &headers)?;
    lists.get(ListId(id)).await?;
    let with = app.grocery().users().find(&name).await?;
    if lists.unshare(ListId(id), with.id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(grocery_core::Error::not_found("share", name).into())
    }
}

// ---- products and prices ----------------------------------------------

/// `?q=&limit=`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// The query.
    pub q: String,
    /// Most results (default 10, at most 100).
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Search the catalog. A token is optional here; with one, products the
/// caller picks often rank higher.
#[utoipa::path(
    get,
    path = "/api/v1/products/search",
    tag = "products",
    params(SearchParams),
    responses(
        (status = 200, description = "The best matches, best first.", body = Vec<SearchHit>),
        (status = 400, response = BadRequest),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
    security((), ("bearer" = [])),
)]
pub(crate) async fn search(
    State(app): State<AppState>,
    caller: Option<Caller>,
    ApiQuery(p): ApiQuery<SearchParams>,
) -> ApiResult<ApiJson<Vec<SearchHit>>> {
    let limit = p.limit.unwrap_or(10).clamp(1, 100);
    // With a token, ranked by what the caller picks.
    Ok(ApiJson(match caller {
        Some(Caller(user)) => app.grocery().habits_for(user).search(&p.q, limit).await?,
        None => app.grocery().catalog().search(&p.q, limit).await?,
    }))
}

/// One catalog product. A token is optional here.
#[utoipa::path(
    get,
    path = "/api/v1/products/{id}",
    tag = "products",
    params(("id" = String, Path, description = "The product id (`gv-whole-milk-1gal`).")),
    responses(
        (status = 200, description = "The product.", body = Product),
        (status = 404, response = NotFound),
        (status = 429, response = RateLimited),
        (status = 500, response = Internal),
        (status = 503, response = Unavailable),
    ),
    security((), ("bearer" = [])),
)]
pub(crate) async fn product(
    State(app): State<AppState>,
    _caller: Option<Caller>,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<ApiJson<Product>> {
    Ok(ApiJson(app.grocery().catalog().get(&id)?))
}

/// `?max_age=SECS` (0: ask the store now).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PriceParams {
    /// How old a cached price the caller accepts, in seconds.
    #[serde(default)]
    pub max_age: Option<u64>,
}

/// A product's current price, through the cache (`max_age` bounds how old).
#[utoipa::path(
    get,
    path = "/api/v1/prices/{id}",
    tag = "prices",
    params(("id" = String, Path, description = "The product id."), PriceParams),
    responses(
        (status = 200, description = "The price, where it came from and how old it is.", body = PriceAnswer),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        (status = 504, response = GatewayTimeout),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn price(
    State(app): State<AppState>,
    Caller(_user): Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<PriceParams>,
) -> ApiResult<ApiJson<PriceAnswer>> {
    Ok(ApiJson(
        app.grocery()
            .pricing()
            .price(&id, p.max_age.map(Duration::from_secs))
            .await?,
    ))
}

/// `?days=N` (default 90, at most 3650).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    /// How many days back.
    #[serde(default)]
    pub days: Option<u32>,
}

/// A product's price history over a period.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct HistoryView {
    /// The product.
    pub product_id: String,
    /// Days covered.
    pub days: u32,
    /// Change points, newest first.
    pub points: Vec<PricePoint>,
    /// Minimum, average, maximum and latest; absent without observations.
    pub stats: Option<PriceStats>,
}

/// A product's price history over the last `days` days, with statistics.
#[utoipa::path(
    get,
    path = "/api/v1/prices/{id}/history",
    tag = "prices",
    params(("id" = String, Path, description = "The product id."), HistoryParams),
    responses(
        (status = 200, description = "The change points and statistics.", body = HistoryView),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn history(
    State(app): State<AppState>,
    Caller(_user): Caller,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<HistoryParams>,
) -> ApiResult<ApiJson<HistoryView>> {
    let days = p.days.unwrap_or(90).clamp(1, 3_650);
    let g = app.grocery();
    g.catalog().get(&id)?;
    let since = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(24 * i64::from(days)))
        .map_err(|e| ApiError::bad_request(e.to_string()))?;
    Ok(ApiJson(HistoryView {
        points: g.prices().history(&id, Some(since)).await?,
        stats: g.prices().stats(&id, days).await?,
        product_id: id,
        days,
    }))
}

/// The caller's price tracks.
#[utoipa::path(
    get,
    path = "/api/v1/tracks",
    tag = "tracking",
    responses(
        (status = 200, description = "The tracks.", body = Vec<Track>),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn tracks(
    State(app): State<AppState>,
    Caller(user): Caller,
) -> ApiResult<ApiJson<Vec<Track>>> {
    Ok(ApiJson(app.grocery().prices_for(user).tracks().await?))
}

/// `POST /api/v1/tracks`: one of `below_cents` or `drop_percent`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TrackBody {
    /// The product.
    pub product_id: String,
    /// Alert at or below this price.
    #[serde(default)]
    pub below_cents: Option<i64>,
    /// Alert this many percent under today's price.
    #[serde(default)]
    pub drop_percent: Option<u8>,
}

/// Track a product's price: alert at or below `below_cents`, or `drop_percent` under today's.
#[utoipa::path(
    post,
    path = "/api/v1/tracks",
    tag = "tracking",
    request_body = TrackBody,
    responses(
        (status = 201, description = "The track.", body = Track),
        BodyErrors,
        (status = 404, response = NotFound),
        (status = 504, response = GatewayTimeout),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn track(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiJson(body): ApiJson<TrackBody>,
) -> ApiResult<(StatusCode, ApiJson<Track>)> {
    let target = match (body.below_cents, body.drop_percent) {
        (Some(c), None) => Target::Below(Money::usd(c)),
        (None, Some(p)) => Target::DropPercent(p),
        _ => {
            return Err(ApiError::bad_request(
                "give exactly one of below_cents or drop_percent",
            ));
        }
    };
    let t = app
        .grocery()
        .prices_for(user)
        .track(&body.product_id, target)
        .await?;
    Ok((StatusCode::CREATED, ApiJson(t)))
}

/// Stop tracking a product.
#[utoipa::path(
    delete,
    path = "/api/v1/tracks/{id}",
    tag = "tracking",
    params(("id" = String, Path, description = "The product id.")),
    responses(
        (status = 204, description = "No longer tracked."),
        (status = 404, response = NotFound),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn untrack(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    if app.grocery().prices_for(user).untrack(&id).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(grocery_core::Error::not_found("track", id).into())
    }
}

/// `?limit=N` (default 50, at most 500).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LimitParams {
    /// Most results.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// The caller's price alerts, newest first.
#[utoipa::path(
    get,
    path = "/api/v1/alerts",
    tag = "tracking",
    params(LimitParams),
    responses(
        (status = 200, description = "The alerts.", body = Vec<Alert>),
        (status = 400, response = BadRequest),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn alerts(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiQuery(p): ApiQuery<LimitParams>,
) -> ApiResult<ApiJson<Vec<Alert>>> {
    let limit = p.limit.unwrap_or(50).clamp(1, 500);
    Ok(ApiJson(app.grocery().prices_for(user).alerts(limit).await?))
}

// ---- deals and basket optimisation ----------------------------------------

/// The cheapest way to buy one of the caller's lists across stores.
#[utoipa::path(
    post,
    path = "/api/v1/optimize",
    tag = "deals",
    request_body = grocery_core::deals::OptimizeOptions,
    responses(
        (status = 200, description = "The optimised plan, the cheapest single store, the naive plan and the savings.", body = grocery_core::deals::Optimized),
        BodyErrors,
        (status = 404, response = NotFound),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn optimize(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiJson(opts): ApiJson<grocery_core::deals::OptimizeOptions>,
) -> ApiResult<ApiJson<grocery_core::deals::Optimized>> {
    Ok(ApiJson(
        app.grocery().deals_for(user).optimize(&opts).await?,
    ))
}

/// `?list=NAME` (default: the current list), or `?all=true` for everything on
/// sale, with `?limit=N` (default 50, at most 500).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DealsParams {
    /// The list, by name.
    #[serde(default)]
    pub list: Option<String>,
    /// Everything on sale, not one list.
    #[serde(default)]
    pub all: bool,
    /// Most results with `all`.
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Deals on one of the caller's lists, or on sale anywhere, best first.
#[utoipa::path(
    get,
    path = "/api/v1/deals",
    tag = "deals",
    params(DealsParams),
    responses(
        (status = 200, description = "The deals, best first.", body = Vec<grocery_core::deals::ProductDeal>),
        (status = 400, response = BadRequest),
        (status = 404, response = NotFound),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn deals(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiQuery(p): ApiQuery<DealsParams>,
) -> ApiResult<ApiJson<Vec<grocery_core::deals::ProductDeal>>> {
    let deals = app.grocery().deals_for(user);
    Ok(ApiJson(if p.all {
        deals.on_sale(p.limit.unwrap_or(50).clamp(1, 500)).await?
    } else {
        deals.on_list(p.list.as_deref()).await?
    }))
}

/// `?forgotten=true` (only what is due and not on the list) and `?list=NAME`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UsualsParams {
    /// Only what is due and not on the list.
    #[serde(default)]
    pub forgotten: bool,
    /// The list for `forgotten` (default: the current list).
    #[serde(default)]
    pub list: Option<String>,
}

/// What the caller usually buys, due first (restock prediction).
#[utoipa::path(
    get,
    path = "/api/v1/usuals",
    tag = "deals",
    params(UsualsParams),
    responses(
        (status = 200, description = "The caller's usuals, due first.", body = Vec<grocery_core::habits::Usual>),
        (status = 400, response = BadRequest),
        AuthErrors,
    ),
    security(("bearer" = [])),
)]
pub(crate) async fn usuals(
    State(app): State<AppState>,
    Caller(user): Caller,
    ApiQuery(p): ApiQuery<UsualsParams>,
) -> ApiResult<ApiJson<Vec<grocery_core::habits::Usual>>> {
    let habits = app.grocery().habits_for(user);
    Ok(ApiJson(if p.forgotten {
        habits.forgotten(p.list.as_deref()).await?
    } else {
        habits.usuals().await?
    }))
}
