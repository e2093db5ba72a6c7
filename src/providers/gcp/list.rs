//! Listing secrets (`GET .../secrets`, page by page) and the health
//! check (one secret's name).
//!
//! The API is asked with `filter=name:{id prefix}` (a "has" match on the
//! resource name, so more can come back), and every answer is filtered
//! again here: only ids that start with the prefix are kept.

use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use serde::Deserialize;

use super::errors::status_error;
use super::{GcpProvider, NAME};
use crate::error::Error;

/// Secrets asked for per page.
const PAGE_SIZE: u32 = 250;
/// Pages read at most (62,500 secrets): a server that keeps sending page
/// tokens must not keep a listing going for ever.
const MAX_PAGES: usize = 250;

#[derive(Deserialize)]
struct ListReply {
    #[serde(default)]
    secrets: Vec<SecretName>,
    #[serde(rename = "nextPageToken")]
    next_page_token: Option<String>,
}

#[derive(Deserialize)]
struct SecretName {
    name: Option<String>,
}

impl GcpProvider {
    pub(super) async fn list_inner(&self, prefix: &str) -> Result<Vec<String>, Error> {
        let Some(id_prefix) = self.ids.id_prefix(prefix) else {
            // A prefix that no id can start with lists nothing.
            return Ok(Vec::new());
        };
        let what = format!(
            "gcp secrets under '{id_prefix}' in project {}",
            self.project
        );
        let mut names = Vec::new();
        let mut page_token: Option<String> = None;
        for _ in 0..MAX_PAGES {
            let mut url = format!(
                "{}/v1/projects/{}/secrets?pageSize={PAGE_SIZE}",
                self.base, self.project
            );
            if !id_prefix.is_empty() {
                url.push_str("&filter=");
                url.push_str(&encode(&format!("name:{id_prefix}")));
            }
            if let Some(t) = &page_token {
                url.push_str("&pageToken=");
                url.push_str(&encode(t));
            }
            let reply = self.call(|| self.client.get(&url), &what).await?;
            if reply.status != 200 {
                return Err(status_error(reply.status, &reply.body, &what));
            }
            let page: ListReply = serde_json::from_slice(&reply.body).map_err(|_| {
                Error::unavailable(format!(
                    "unavailable ({what}: the answer is not a list of secrets)"
                ))
                .with_provider(NAME)
            })?;
            for secret in page.secrets {
                let Some(name) = secret.name else { continue };
                let id = name.rsplit('/').next().unwrap_or("");
                if let Some(path) = self.ids.listed_path(prefix, &id_prefix, id) {
                    names.push(path);
                }
            }
            match page.next_page_token {
                Some(t) if !t.is_empty() && page_token.as_deref() != Some(t.as_str()) => {
                    page_token = Some(t);
                }
                _ => {
                    names.sort();
                    names.dedup();
                    return Ok(names);
                }
            }
        }
        Err(Error::unavailable(format!(
            "unavailable ({what}: stopped after {MAX_PAGES} pages of {PAGE_SIZE}; list a narrower prefix)"
        ))
        .with_provider(NAME))
    }

    /// One authenticated call that reads no value: the first secret's
    /// name (needs `secretmanager.secrets.list`).
    pub(super) async fn health_inner(&self) -> Result<(), Error> {
        let what = format!("gcp health check of project {}", self.project);
        let url = format!(
            "{}/v1/projects/{}/secrets?pageSize=1",
            self.base, self.project
        );
        let reply = self.call(|| self.client.get(&url), &what).await?;
        if reply.status != 200 {
            return Err(status_error(reply.status, &reply.body, &what));
        }
        Ok(())
    }
}

fn encode(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}
