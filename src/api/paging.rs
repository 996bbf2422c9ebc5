//! Paging on every list route of the management API (WSO2's way): `limit` (25 by default, at most 500) and
//! `offset`, answered with a `pagination` object naming the total and the query strings of the next and previous
//! pages. The applications list pages in the store and also takes `query`, `sortBy` and `sortOrder`; the other lists
//! are short and page in memory.

use axum::http::StatusCode;
use serde::Deserialize;

use super::dto::{ListDto, PaginationDto};
use super::error::ApiError;

/// The default and largest page.
pub(crate) const PAGE: (u32, u32) = (25, 500);

/// `limit` and `offset` of a list route.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct PageParams {
    /// Page size: 1 to 500 (25 by default).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Items skipped (0 by default).
    pub offset: Option<u32>,
}

/// `GET /api/applications`: paging, search and order.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ApplicationListParams {
    /// Page size: 1 to 500 (25 by default).
    #[param(minimum = 1, maximum = 500)]
    pub limit: Option<u32>,
    /// Items skipped (0 by default).
    pub offset: Option<u32>,
    /// Text the name or description contains (any case).
    pub query: Option<String>,
    /// `createdTime` (default) or `name`.
    pub sort_by: Option<String>,
    /// `asc` (default) or `desc`.
    pub sort_order: Option<String>,
}

/// The page asked for: `(limit, offset)`, the limit checked.
pub(crate) fn bounds(limit: Option<u32>, offset: Option<u32>) -> Result<(u32, u32), ApiError> {
    let limit = limit.unwrap_or(PAGE.0);
    if limit == 0 || limit > PAGE.1 {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "Bad Request",
            format!("limit must be from 1 to {}", PAGE.1),
        )
        .field("limit", format!("1 to {}", PAGE.1)));
    }
    Ok((limit, offset.unwrap_or(0)))
}

/// Where a page is: `link(offset)` is the query string of the page at that offset.
pub(crate) fn pagination(
    offset: u32,
    limit: u32,
    total: u64,
    shown: usize,
    link: impl Fn(u32) -> String,
) -> PaginationDto {
    let end = u64::from(offset).saturating_add(shown as u64);
    PaginationDto {
        offset,
        limit,
        total,
        next: (end < total).then(|| link(offset.saturating_add(limit))),
        previous: (offset > 0).then(|| link(offset.saturating_sub(limit))),
    }
}

/// A query string of `pairs` (those given) with `limit` and `offset`.
pub(crate) fn query_string(pairs: &[(&str, Option<String>)], limit: u32, offset: u32) -> String {
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        if let Some(v) = v {
            q.append_pair(k, v);
        }
    }
    q.append_pair("limit", &limit.to_string());
    q.append_pair("offset", &offset.to_string());
    q.finish()
}

/// One page of a list held in memory.
pub(crate) fn page_of<T>(items: Vec<T>, p: &PageParams) -> Result<ListDto<T>, ApiError> {
    let (limit, offset) = bounds(p.limit, p.offset)?;
    let total = items.len() as u64;
    let list: Vec<T> = items.into_iter().skip(offset as usize).take(limit as usize).collect();
    let shown = list.len();
    Ok(ListDto::page(
        list,
        pagination(offset, limit, total, shown, |o| query_string(&[], limit, o)),
    ))
}
