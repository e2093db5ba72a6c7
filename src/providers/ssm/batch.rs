//! Batch reads: [`Provider::fetch_many`](crate::providers::Provider::fetch_many)
//! with `GetParameters` (see the [module docs](super#batches-and-listing)),
//! and single `GetParameter` calls for what a batch did not answer.

use std::collections::HashMap;

use aws_sdk_ssm::Client;
use aws_sdk_ssm::error::ProvideErrorMetadata;
use zeroize::Zeroize;

use super::{SsmProvider, parameter_value};
use crate::error::Error;
use crate::providers::aws_common::errors::for_secret;
use crate::providers::batch::{Indexed, in_batches};
use crate::providers::{BoxFuture, SecretValue, fetch_each};

/// The most names one `GetParameters` call takes (Parameter Store's limit).
pub(super) const BATCH_SIZE: usize = 10;

/// Batch calls in flight at once: a warm-up of hundreds of parameters must
/// not trip the account's request rate.
const BATCH_CALLS_IN_FLIGHT: usize = 4;

impl SsmProvider {
    /// The body of [`Provider::fetch_many`](crate::providers::Provider::fetch_many):
    /// `GetParameters` for 10 names at a time, a few calls in flight;
    /// single reads for what no batch answered (a repeated name, a name
    /// with a `:`, a call Parameter Store refused as a whole).
    pub(super) async fn fetch_many_inner(&self, paths: &[&str]) -> Vec<Result<SecretValue, Error>> {
        if paths.is_empty() {
            return Vec::new();
        }
        let client = match self.client().await {
            Ok(c) => c,
            Err(e) => return paths.iter().map(|_| Err(e.clone())).collect(),
        };
        let names: Vec<String> = paths.iter().map(|p| self.parameter_name(p)).collect();
        // A name with a `:` (outside an ARN) is left to the single read,
        // which refuses it saying why.
        in_batches(
            &names,
            |name| name.starts_with("arn:") || !name.contains(':'),
            (BATCH_SIZE, BATCH_CALLS_IN_FLIGHT),
            |chunk| Box::pin(self.batch_chunk(client, &names, chunk)) as BoxFuture<'_, _>,
            |unanswered| {
                Box::pin(async move {
                    let alone: Vec<&str> = unanswered.iter().map(|&i| paths[i]).collect();
                    fetch_each(self, &alone).await
                }) as BoxFuture<'_, _>
            },
        )
        .await
    }

    /// One `GetParameters` call for `names[i]` for each `i` in `chunk`:
    /// the answers it has, by index. A call refused as a whole (one name
    /// it does not accept spoils the list) answers nothing, so that the
    /// caller reads those names alone.
    async fn batch_chunk(
        &self,
        client: &Client,
        names: &[String],
        chunk: Vec<usize>,
    ) -> Vec<Indexed> {
        let index: HashMap<&str, usize> = chunk.iter().map(|&i| (names[i].as_str(), i)).collect();
        let what = |i: usize| format!("parameter {}", names[i]);
        let result = client
            .get_parameters()
            .set_names(Some(chunk.iter().map(|&i| names[i].clone()).collect()))
            .with_decryption(true)
            .send()
            .await;
        let out = match result {
            Ok(out) => out,
            Err(e) if matches!(e.code(), Some("ValidationException")) => return Vec::new(),
            Err(e) => {
                // Throttled, unreachable, denied: the same answer for
                // every name of the chunk.
                let shared = self.sdk_error(e, "GetParameters");
                return chunk
                    .iter()
                    .map(|&i| (i, Err(for_secret(&shared, &what(i)))))
                    .collect();
            }
        };
        let mut answers: Vec<Indexed> = Vec::with_capacity(chunk.len());
        for mut parameter in out.parameters.unwrap_or_default() {
            let found = parameter
                .name
                .as_deref()
                .and_then(|n| index.get(n))
                .or_else(|| parameter.arn.as_deref().and_then(|a| index.get(a)))
                .copied();
            match found {
                Some(i) if !answers.iter().any(|(j, _)| *j == i) => {
                    answers.push((i, parameter_value(parameter, || what(i))));
                }
                // Not asked for by this spelling: its value is wiped, and
                // the name it answers is read alone.
                _ => {
                    if let Some(mut value) = parameter.value.take() {
                        value.zeroize();
                    }
                }
            }
        }
        for name in out.invalid_parameters.unwrap_or_default() {
            if let Some(&i) = index.get(name.as_str())
                && !answers.iter().any(|(j, _)| *j == i)
            {
                answers.push((i, Err(Error::not_found(format!("not found ({})", what(i))))));
            }
        }
        answers
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;
    use crate::providers::aws_common::ClientSettings;
    use crate::providers::aws_common::errors::map_sdk_error;
    use crate::providers::ssm::errors::PARAMETER_STORE;
    use aws_sdk_ssm::config::http::HttpResponse;
    use aws_sdk_ssm::error::{ErrorMetadata, SdkError};
    use aws_sdk_ssm::operation::get_parameters::GetParametersError;
    use aws_smithy_types::body::SdkBody;

    #[test]
    fn a_failed_batch_call_answers_each_name_with_its_code_and_status() {
        let meta = ErrorMetadata::builder()
            .code("ThrottlingException")
            .message("Rate exceeded")
            .build();
        let err: SdkError<GetParametersError, HttpResponse> = SdkError::service_error(
            GetParametersError::generic(meta),
            HttpResponse::new(400.try_into().unwrap(), SdkBody::from("s3cr3t-body")),
        );
        let shared = map_sdk_error(
            err,
            "GetParameters",
            &PARAMETER_STORE,
            &ClientSettings::default(),
            "AWS SSM Parameter Store",
        );
        let e = for_secret(&shared, "parameter /app/db");
        assert_eq!(e.kind(), ErrorKind::Unavailable);
        assert_eq!(
            (e.code(), e.http_status()),
            (Some("ThrottlingException"), Some(400))
        );
        assert!(e.to_string().ends_with("(parameter /app/db)"), "{e}");
        assert!(!format!("{e:?}").contains("s3cr3t-body"));
    }
}
