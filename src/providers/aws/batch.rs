//! Batch reads: [`Provider::fetch_many`](crate::providers::Provider::fetch_many)
//! with `BatchGetSecretValue` (see the [module docs](super#batches)), and
//! the fallback to single `GetSecretValue` calls when AWS refuses the
//! batch call or leaves an id unanswered.

use std::collections::HashMap;
use std::sync::atomic::Ordering;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::config::http::HttpResponse;
use aws_sdk_secretsmanager::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_secretsmanager::types::SecretValueEntry;

use super::errors::classify_service_error;
use super::{AwsProvider, metadata_from, secret_value};
use crate::error::Error;
use crate::providers::aws_common::errors::for_secret;
use crate::providers::batch::{Indexed, in_batches, join_bounded};
use crate::providers::{BoxFuture, FETCH_MANY_CONCURRENCY, SecretValue, Version};

/// The most ids one `BatchGetSecretValue` call takes (AWS's limit).
const BATCH_SIZE: usize = 20;

/// Batch calls in flight at once: a warm-up of hundreds of secrets must
/// not trip the account's request rate.
const BATCH_CALLS_IN_FLIGHT: usize = 4;

/// Pages followed for one batch call (AWS pages only filtered listings).
const MAX_BATCH_PAGES: usize = 10;

impl AwsProvider {
    /// The body of [`Provider::fetch_many`]: `BatchGetSecretValue` for 20
    /// ids at a time (AWS's limit for `SecretIdList`), a few calls in
    /// flight; single `GetSecretValue` calls for what a batch did not
    /// answer, and for everything once AWS has refused the batch call.
    pub(super) async fn fetch_many_inner(&self, names: &[&str]) -> Vec<Result<SecretValue, Error>> {
        if names.is_empty() {
            return Vec::new();
        }
        if self.replicas.is_some() {
            // Each read picks its region (an ARN's own, or the first that
            // answers): one by one.
            return self.fetch_singly(names.iter().copied()).await;
        }
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => return names.iter().map(|_| Err(e.clone())).collect(),
        };
        if self.batch_refused.load(Ordering::Relaxed) {
            return self.fetch_singly(names.iter().copied()).await;
        }
        let ids: Vec<String> = names.iter().map(|n| self.secret_id(n)).collect();
        // What no batch answered (a repeated name, an id the answer spells
        // differently, a chunk AWS refused) is read alone.
        in_batches(
            &ids,
            |_| true,
            (BATCH_SIZE, BATCH_CALLS_IN_FLIGHT),
            |chunk| Box::pin(self.batch_chunk(client, &ids, chunk)) as BoxFuture<'_, _>,
            |unanswered| {
                Box::pin(self.fetch_singly(unanswered.into_iter().map(|i| names[i])))
                    as BoxFuture<'_, _>
            },
        )
        .await
    }

    /// One `BatchGetSecretValue` call (following `NextToken`, which AWS
    /// does not send for an id list but documents) for `ids[i]` for each
    /// `i` in `chunk`: the answers it has, by index. A refused call answers
    /// nothing, so that the caller reads those ids alone.
    async fn batch_chunk(
        &self,
        client: &Client,
        ids: &[String],
        chunk: Vec<usize>,
    ) -> Vec<Indexed> {
        let index: HashMap<&str, usize> = chunk.iter().map(|&i| (ids[i].as_str(), i)).collect();
        let what = |i: usize| format!("secret id {}", ids[i]);
        let mut answers: Vec<Indexed> = Vec::with_capacity(chunk.len());
        let mut next_token: Option<String> = None;
        for _ in 0..MAX_BATCH_PAGES {
            let result = client
                .batch_get_secret_value()
                .set_secret_id_list(Some(chunk.iter().map(|&i| ids[i].clone()).collect()))
                .set_next_token(next_token.take())
                .send()
                .await;
            let mut out = match result {
                Ok(out) => out,
                Err(e) => {
                    match batch_refusal(&e) {
                        Some(Refusal::Permission) => self.note_batch_refused(e.code()),
                        // One id AWS does not accept must not fail the
                        // other nineteen: each is read alone.
                        Some(Refusal::ThisRequest) => {}
                        None => {
                            // Throttled, unreachable, bad credentials: the
                            // same answer for every id of the chunk.
                            let shared = self.sdk_error(e, "BatchGetSecretValue");
                            for &i in &chunk {
                                if !answers.iter().any(|(j, _)| *j == i) {
                                    answers.push((i, Err(for_secret(&shared, &what(i)))));
                                }
                            }
                        }
                    }
                    return answers;
                }
            };
            for entry in out.secret_values.take().unwrap_or_default() {
                let found = entry
                    .name
                    .as_deref()
                    .and_then(|n| index.get(n))
                    .or_else(|| entry.arn.as_deref().and_then(|a| index.get(a)))
                    .copied();
                match found {
                    Some(i) => answers.push((i, entry_value(entry, || what(i)))),
                    // Not asked for by this spelling: dropped here (and its
                    // value wiped); the id it answers is read alone.
                    None => drop(entry_value(entry, String::new)),
                }
            }
            for error in out.errors.take().unwrap_or_default() {
                let Some(&i) = error.secret_id.as_deref().and_then(|id| index.get(id)) else {
                    continue;
                };
                let code = error.error_code.as_deref().unwrap_or("");
                let e = if code.is_empty() {
                    Error::unavailable(format!(
                        "AWS Secrets Manager failed ({}): the batch answer gave no error code",
                        what(i)
                    ))
                } else {
                    classify_service_error(code, error.message.as_deref().unwrap_or(""), &what(i))
                        .with_code(code)
                };
                answers.push((i, Err(e)));
            }
            match out.next_token.take() {
                Some(token) if !token.is_empty() && answers.len() < chunk.len() => {
                    next_token = Some(token);
                }
                _ => break,
            }
        }
        answers
    }

    /// `GetSecretValue` for each name, a few at a time.
    async fn fetch_singly<'n>(
        &self,
        names: impl Iterator<Item = &'n str>,
    ) -> Vec<Result<SecretValue, Error>> {
        let current = Version::Current;
        let futures: Vec<BoxFuture<'_, Result<SecretValue, Error>>> = names
            .map(|name| Box::pin(self.fetch_inner(name, &current)) as BoxFuture<'_, _>)
            .collect();
        join_bounded(futures, FETCH_MANY_CONCURRENCY).await
    }

    /// Remembers, for the provider's lifetime, that AWS refused the batch
    /// call, and says so once: every later `fetch_many` reads one by one.
    fn note_batch_refused(&self, code: Option<&str>) {
        if !self.batch_refused.swap(true, Ordering::Relaxed) {
            tracing::warn!(
                provider = "aws",
                code = code.unwrap_or("none"),
                "BatchGetSecretValue was refused; reading secrets one by one \
                 (grant secretsmanager:BatchGetSecretValue to read them in batches)"
            );
        }
    }
}

/// One secret of a `BatchGetSecretValue` answer, with its metadata.
fn entry_value(
    mut entry: SecretValueEntry,
    what: impl FnOnce() -> String,
) -> Result<SecretValue, Error> {
    let metadata = metadata_from(
        entry.arn.take(),
        entry.version_id.take(),
        entry.version_stages.take(),
        entry.created_date.take(),
    );
    secret_value(entry.secret_string, entry.secret_binary, metadata, what)
}

/// Why a whole `BatchGetSecretValue` call was refused, when the ids can
/// still be read one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// The caller may not batch (no `secretsmanager:BatchGetSecretValue`),
    /// or the endpoint does not know the call: it will not change, so it
    /// is remembered.
    Permission,
    /// This request was refused (an id AWS does not accept spoils the
    /// whole list): only this chunk is read one by one.
    ThisRequest,
}

fn batch_refusal<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> Option<Refusal> {
    let SdkError::ServiceError(service) = e else {
        return None;
    };
    match e.code() {
        Some(
            "AccessDeniedException"
            | "AccessDenied"
            | "UnknownOperationException"
            | "InvalidAction"
            | "NotImplemented",
        ) => Some(Refusal::Permission),
        Some("InvalidParameterException" | "InvalidRequestException" | "ValidationException") => {
            Some(Refusal::ThisRequest)
        }
        Some(_) => None,
        // No code: an endpoint that does not route the call at all.
        None => matches!(service.raw().status().as_u16(), 404 | 501).then_some(Refusal::Permission),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::providers::SecretData;
    use crate::providers::aws::errors::map_sdk_error;
    use crate::providers::aws::testing::{TARGET, raw, service_error};
    use crate::providers::aws_common::ClientSettings;
    use aws_sdk_secretsmanager::error::ErrorMetadata;
    use aws_sdk_secretsmanager::primitives::Blob;
    use secrecy::ExposeSecret;

    #[test]
    fn a_batch_entry_is_a_value_with_its_metadata() {
        let arn = "arn:aws:secretsmanager:us-east-1:123456789012:secret:db-AbCdEf";
        let entry = SecretValueEntry::builder()
            .arn(arn)
            .name("db")
            .version_id("v-3")
            .version_stages("AWSCURRENT")
            .created_date(aws_smithy_types::DateTime::from_secs(1_700_000_000))
            .secret_string("s3cr3t-value")
            .build();
        let v = entry_value(entry, || "secret id db".to_owned()).unwrap();
        assert_eq!(v.metadata().id(), Some(arn));
        assert_eq!(v.metadata().version_id(), Some("v-3"));
        assert_eq!(v.metadata().stages(), ["AWSCURRENT"]);
        assert!(v.metadata().created().is_some());
        assert!(matches!(v.data(), SecretData::Text(s) if s.expose_secret() == "s3cr3t-value"));
        let blob = SecretValueEntry::builder()
            .secret_binary(Blob::new(vec![0u8, 255]))
            .build();
        assert!(matches!(
            entry_value(blob, String::new).unwrap().data(),
            SecretData::Binary(b) if b.expose_secret() == [0, 255]
        ));
        let e =
            entry_value(SecretValueEntry::builder().build(), || "secret id x".into()).unwrap_err();
        assert_eq!(e.kind(), ErrorKind::NotFound);
    }

    #[test]
    fn a_refused_batch_call_is_told_from_one_that_failed() {
        use aws_sdk_secretsmanager::operation::batch_get_secret_value::BatchGetSecretValueError;
        let refused = |code: Option<&str>, status: u16| {
            let mut meta = ErrorMetadata::builder();
            if let Some(c) = code {
                meta = meta.code(c);
            }
            let err: SdkError<BatchGetSecretValueError, HttpResponse> = SdkError::service_error(
                BatchGetSecretValueError::generic(meta.build()),
                raw(status, "{}"),
            );
            batch_refusal(&err)
        };
        assert_eq!(
            refused(Some("AccessDeniedException"), 400),
            Some(Refusal::Permission)
        );
        assert_eq!(
            refused(Some("UnknownOperationException"), 400),
            Some(Refusal::Permission)
        );
        assert_eq!(refused(None, 501), Some(Refusal::Permission));
        assert_eq!(
            refused(Some("InvalidParameterException"), 400),
            Some(Refusal::ThisRequest)
        );
        assert_eq!(refused(Some("ThrottlingException"), 400), None);
        assert_eq!(refused(Some("UnrecognizedClientException"), 400), None);
        assert_eq!(refused(None, 500), None);
        let timeout: SdkError<BatchGetSecretValueError, HttpResponse> =
            SdkError::timeout_error("attempt timeout");
        assert_eq!(batch_refusal(&timeout), None);
    }

    #[test]
    fn a_failed_batch_call_answers_each_secret_with_its_id_code_and_status() {
        let shared = map_sdk_error(
            service_error("ThrottlingException", "Rate exceeded"),
            "BatchGetSecretValue",
            &ClientSettings::default(),
            TARGET,
        );
        let e = for_secret(&shared, "secret id /app/db");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(
            (e.code(), e.http_status()),
            (Some("ThrottlingException"), Some(400))
        );
        assert!(e.to_string().ends_with("(secret id /app/db)"), "{e}");
        assert!(!format!("{e:?}").contains("s3cr3t-body"));
    }
}
