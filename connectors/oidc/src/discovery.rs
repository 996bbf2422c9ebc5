//! Authorization server metadata: the core's discovery (OpenID Connect Discovery on `openidconnect`'s types, RFC 8414
//! as the fallback), under the names this connector has always exported.

pub use keymanager::connector_kit::oauth::discovery::{discover, well_known_urls, ServerMetadata as Metadata};
