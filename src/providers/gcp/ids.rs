//! Secret paths as Secret Manager secret ids, and back.
//!
//! A secret id holds only letters, digits, `_` and `-` (1 to 255 of them),
//! so a path's `/` becomes the separator (`_` by default,
//! `SECRETS_GCP_SEPARATOR`) and the prefix goes in front, joined with the
//! separator: with the prefix `myapp`, `database/password` is the id
//! `myapp_database_password`. A path that cannot become a valid id is
//! refused, saying why; it is never changed into some other id.
//!
//! Listing maps ids back to paths only as far as that is unambiguous: with
//! `_` as the separator, the id `database_password` may have been written
//! `database/password` or `database_password` (both read the same secret).
//! So a listed id is returned as the listing prefix, as the caller wrote
//! it, followed by the rest of the id unchanged: `list("database/")` gives
//! `database/password`, `list("")` gives `database_password`. Either reads
//! the secret it was listed for.

use std::fmt;

/// The longest secret id Secret Manager accepts.
pub(super) const MAX_ID_LEN: usize = 255;

/// Whether `b` may appear in a secret id.
fn is_id_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_' || b == b'-'
}

/// How paths become secret ids: the prefix (already mapped, ending with the
/// separator, or empty) and the separator.
#[derive(Clone, PartialEq, Eq)]
pub(super) struct SecretIds {
    prefix: String,
    separator: String,
}

impl fmt::Debug for SecretIds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretIds")
            .field("prefix", &self.prefix)
            .field("separator", &self.separator)
            .finish()
    }
}

impl SecretIds {
    /// The mapping for `prefix` (`/` in it become the separator; leading
    /// and trailing `/` and a trailing separator are dropped, so `myapp`,
    /// `myapp/` and `myapp_` are the same prefix) and `separator`.
    ///
    /// # Errors
    ///
    /// A reason (to go after the setting's name) when the separator is
    /// empty or holds a character ids cannot, or the prefix holds one.
    pub(super) fn new(prefix: &str, separator: &str) -> Result<SecretIds, IdsError> {
        if separator.is_empty() {
            return Err(IdsError::Separator("it is empty"));
        }
        if !separator.bytes().all(is_id_byte) {
            return Err(IdsError::Separator(
                "it may hold only letters, digits, '_' and '-' (the characters of a secret id)",
            ));
        }
        let mut p = prefix.trim().trim_matches('/');
        while let Some(rest) = p.strip_suffix(separator) {
            p = rest.trim_end_matches('/');
        }
        let mut mapped = String::new();
        if !p.is_empty() {
            if p.split('/').any(str::is_empty) {
                return Err(IdsError::Prefix("it has an empty segment ('//')"));
            }
            mapped = p.replace('/', separator);
            if !mapped.bytes().all(is_id_byte) {
                return Err(IdsError::Prefix(
                    "it may hold only letters, digits, '_', '-' and '/' (the characters of a secret id)",
                ));
            }
            mapped.push_str(separator);
            if mapped.len() >= MAX_ID_LEN {
                return Err(IdsError::Prefix(
                    "it leaves no room for a name in a 255-character secret id",
                ));
            }
        }
        Ok(SecretIds {
            prefix: mapped,
            separator: separator.to_owned(),
        })
    }

    /// The secret id that `path` reads.
    ///
    /// # Errors
    ///
    /// Why `path` has no valid id: it is empty, has an empty segment (a
    /// leading, trailing or doubled `/`), holds a character ids cannot, or
    /// is too long.
    pub(super) fn secret_id(&self, path: &str) -> Result<String, &'static str> {
        if path.is_empty() {
            return Err("it is empty");
        }
        if path.split('/').any(str::is_empty) {
            return Err("it has an empty segment (a leading, trailing or doubled '/')");
        }
        let id = format!("{}{}", self.prefix, path.replace('/', &self.separator));
        if !id.bytes().all(is_id_byte) {
            return Err(
                "Secret Manager ids hold only letters, digits, '_' and '-' ('/' becomes the separator)",
            );
        }
        if id.len() > MAX_ID_LEN {
            return Err("its secret id would be longer than 255 characters");
        }
        Ok(id)
    }

    /// What the ids listed for the listing prefix `prefix` start with, or
    /// `None` when no id can (the prefix holds a character ids cannot).
    pub(super) fn id_prefix(&self, prefix: &str) -> Option<String> {
        let mapped = format!(
            "{}{}",
            self.prefix,
            prefix.trim_start_matches('/').replace('/', &self.separator)
        );
        mapped.bytes().all(is_id_byte).then_some(mapped)
    }

    /// The path a listing of `prefix` returns for `id`: `prefix` as given
    /// and the rest of the id unchanged (see the module docs); `None` when
    /// the id is not under it.
    pub(super) fn listed_path(&self, prefix: &str, id_prefix: &str, id: &str) -> Option<String> {
        let rest = id.strip_prefix(id_prefix)?;
        let prefix = prefix.trim_start_matches('/');
        let path = format!("{prefix}{rest}");
        (!path.is_empty() && !path.ends_with('/')).then_some(path)
    }
}

/// Which setting [`SecretIds::new`] refused, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum IdsError {
    /// The separator.
    Separator(&'static str),
    /// The prefix.
    Prefix(&'static str),
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(prefix: &str, sep: &str) -> SecretIds {
        SecretIds::new(prefix, sep).unwrap()
    }

    #[test]
    fn slashes_become_the_separator_after_the_prefix() {
        assert_eq!(
            ids("", "_").secret_id("database/password").unwrap(),
            "database_password"
        );
        assert_eq!(ids("", "_").secret_id("DB-URL").unwrap(), "DB-URL");
        for prefix in ["myapp", "/myapp/", "myapp_", "myapp/_", " myapp "] {
            assert_eq!(
                ids(prefix, "_").secret_id("database/password").unwrap(),
                "myapp_database_password",
                "{prefix:?}"
            );
        }
        assert_eq!(
            ids("team/app", "__").secret_id("db/password").unwrap(),
            "team__app__db__password"
        );
        assert_eq!(ids("app", "-").secret_id("db/pw").unwrap(), "app-db-pw");
    }

    #[test]
    fn paths_without_a_valid_id_are_refused_never_changed() {
        let m = ids("", "_");
        for (path, why) in [
            ("", "empty"),
            ("/db", "empty segment"),
            ("db/", "empty segment"),
            ("a//b", "empty segment"),
            ("db.url", "only letters"),
            ("db url", "only letters"),
            ("db:1", "only letters"),
            ("pässword", "only letters"),
        ] {
            let e = m.secret_id(path).unwrap_err();
            assert!(e.contains(why), "{path:?}: {e}");
        }
        assert!(m.secret_id(&"a".repeat(255)).is_ok());
        assert!(m.secret_id(&"a".repeat(256)).unwrap_err().contains("255"));
        let long = ids(&"p".repeat(250), "_");
        assert!(long.secret_id("abcd").is_ok());
        assert!(long.secret_id("abcde").is_err());
    }

    #[test]
    fn bad_separators_and_prefixes_are_refused() {
        assert!(matches!(
            SecretIds::new("", ""),
            Err(IdsError::Separator(_))
        ));
        assert!(matches!(
            SecretIds::new("", "/"),
            Err(IdsError::Separator(_))
        ));
        assert!(matches!(
            SecretIds::new("", "."),
            Err(IdsError::Separator(_))
        ));
        assert!(matches!(
            SecretIds::new("my.app", "_"),
            Err(IdsError::Prefix(_))
        ));
        assert!(matches!(
            SecretIds::new("a//b", "_"),
            Err(IdsError::Prefix(_))
        ));
        assert!(matches!(
            SecretIds::new(&"p".repeat(255), "_"),
            Err(IdsError::Prefix(_))
        ));
        assert_eq!(ids("", "_"), ids("/", "_"));
    }

    #[test]
    fn listed_ids_keep_the_prefix_as_asked_and_the_rest_as_it_is() {
        let m = ids("myapp", "_");
        let scope = m.id_prefix("database/").unwrap();
        assert_eq!(scope, "myapp_database_");
        assert_eq!(
            m.listed_path("database/", &scope, "myapp_database_password")
                .as_deref(),
            Some("database/password")
        );
        assert_eq!(m.listed_path("database/", &scope, "myapp_other"), None);
        let all = m.id_prefix("").unwrap();
        assert_eq!(
            m.listed_path("", &all, "myapp_database_password")
                .as_deref(),
            Some("database_password")
        );
        // Whatever the listing returns reads the id it was listed for.
        for (prefix, id) in [("database/", "myapp_database_pass_word"), ("", "myapp_x-y")] {
            let scope = m.id_prefix(prefix).unwrap();
            let path = m.listed_path(prefix, &scope, id).unwrap();
            assert_eq!(m.secret_id(&path).unwrap(), id, "{prefix:?}");
        }
        assert_eq!(m.id_prefix("db.x"), None);
        assert_eq!(m.listed_path("", &all, "myapp_"), None, "no name left");
    }
}
