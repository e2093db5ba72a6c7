//! What a request asks for: `GET /secretsmanager/get?secretId=ID&...` or
//! `GET {path_prefix}ID?...`, with `versionId`, `versionStage` and
//! `refreshNow` (`true`/`false`/`1`/`0`), as the AWS agent reads them.
//! Anything else is a 400 with a short text.

use std::borrow::Cow;

use secret_chain::Version;

/// One secret request. Borrows from the request target when nothing in it
/// is escaped (the hit path allocates nothing).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Query<'a> {
    pub(crate) secret_id: Cow<'a, str>,
    pub(crate) version_id: Option<Cow<'a, str>>,
    pub(crate) version_stage: Option<Cow<'a, str>>,
    pub(crate) refresh_now: bool,
}

impl Query<'_> {
    /// The version to read: the id when one is given (the stage is then
    /// checked against the answer), else the stage, else the current one.
    pub(crate) fn version(&self) -> Version {
        match (&self.version_id, &self.version_stage) {
            (Some(id), _) => Version::Id(id.to_string()),
            (None, Some(stage)) if stage == "AWSCURRENT" => Version::Current,
            (None, Some(stage)) => Version::Stage(stage.to_string()),
            (None, None) => Version::Current,
        }
    }
}

/// A 400 answer's text.
pub(crate) type Refusal = &'static str;

/// `GET /secretsmanager/get?...`: `secretId` is required.
pub(crate) fn from_query(query: Option<&str>) -> Result<Query<'_>, Cow<'static, str>> {
    let mut q = Query {
        secret_id: Cow::Borrowed(""),
        version_id: None,
        version_stage: None,
        refresh_now: false,
    };
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        match k.as_ref() {
            "secretId" => q.secret_id = v,
            _ => other(&mut q, k, v)?,
        }
    }
    if q.secret_id.is_empty() {
        return Err(Cow::Borrowed("missing parameter secretId"));
    }
    Ok(q)
}

/// `GET {prefix}ID?...`: the id is the rest of the path, percent-decoded.
pub(crate) fn from_path<'a>(
    path: &'a str,
    prefix: &str,
    query: Option<&'a str>,
) -> Result<Query<'a>, Cow<'static, str>> {
    let raw = path.get(prefix.len()..).unwrap_or("");
    if raw.is_empty() {
        return Err(Cow::Borrowed("missing secret ID"));
    }
    let secret_id = percent_encoding::percent_decode_str(raw)
        .decode_utf8()
        .map_err(|_| Cow::Borrowed("the secret ID is not valid UTF-8"))?;
    let mut q = Query {
        secret_id,
        version_id: None,
        version_stage: None,
        refresh_now: false,
    };
    for (k, v) in form_urlencoded::parse(query.unwrap_or("").as_bytes()) {
        other(&mut q, k, v)?;
    }
    Ok(q)
}

fn other<'a>(q: &mut Query<'a>, k: Cow<'a, str>, v: Cow<'a, str>) -> Result<(), Cow<'static, str>> {
    match k.as_ref() {
        "versionId" => q.version_id = Some(v),
        "versionStage" => q.version_stage = Some(v),
        "refreshNow" => q.refresh_now = refresh_value(&v)?,
        // The parameter's name is echoed, cut short: it is not a value of
        // ours, but a client may put anything there.
        _ => {
            let name: String = k.chars().take(64).collect();
            return Err(Cow::Owned(format!("unknown parameter: {name}")));
        }
    }
    Ok(())
}

fn refresh_value(v: &str) -> Result<bool, Refusal> {
    if v.eq_ignore_ascii_case("true") || v == "1" {
        Ok(true)
    } else if v.eq_ignore_ascii_case("false") || v == "0" {
        Ok(false)
    } else {
        Err("invalid refreshNow value")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_form_reads_every_parameter() {
        let q = from_query(Some(
            "secretId=db%2Fmain&versionStage=AWSPREVIOUS&refreshNow=1",
        ))
        .unwrap();
        assert_eq!(q.secret_id, "db/main");
        assert_eq!(q.version(), Version::Stage("AWSPREVIOUS".into()));
        assert!(q.refresh_now);
        let q = from_query(Some("secretId=a&versionId=v-1&versionStage=AWSCURRENT")).unwrap();
        assert_eq!(q.version(), Version::Id("v-1".into()));
        let q = from_query(Some("secretId=a&versionStage=AWSCURRENT&refreshNow=FALSE")).unwrap();
        assert_eq!(q.version(), Version::Current);
        assert!(!q.refresh_now);
    }

    #[test]
    fn plain_ids_are_borrowed_not_copied() {
        let q = from_query(Some("secretId=plain-name")).unwrap();
        assert!(matches!(q.secret_id, Cow::Borrowed(_)));
        let q = from_path("/v1/db/main", "/v1/", None).unwrap();
        assert!(matches!(q.secret_id, Cow::Borrowed("db/main")));
    }

    #[test]
    fn bad_parameters_get_the_aws_agents_short_texts() {
        assert_eq!(from_query(None).unwrap_err(), "missing parameter secretId");
        assert_eq!(
            from_query(Some("secretId=")).unwrap_err(),
            "missing parameter secretId"
        );
        assert_eq!(
            from_query(Some("secretId=a&refreshNow=yes")).unwrap_err(),
            "invalid refreshNow value"
        );
        assert_eq!(
            from_query(Some("secretId=a&colour=red")).unwrap_err(),
            "unknown parameter: colour"
        );
        assert_eq!(
            from_path("/v1/", "/v1/", None).unwrap_err(),
            "missing secret ID"
        );
        assert_eq!(
            from_path("/v1/a", "/v1/", Some("secretId=b")).unwrap_err(),
            "unknown parameter: secretId"
        );
        let long = format!("secretId=a&{}=1", "x".repeat(500));
        assert!(from_query(Some(&long)).unwrap_err().len() < 100);
    }

    #[test]
    fn the_path_form_decodes_the_id() {
        let q = from_path("/v1/my%20secret", "/v1/", Some("versionId=abc")).unwrap();
        assert_eq!(q.secret_id, "my secret");
        assert_eq!(q.version(), Version::Id("abc".into()));
        assert!(from_path("/v1/%FF", "/v1/", None).is_err());
    }
}
