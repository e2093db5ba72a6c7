//! gitleaks rules files, read with gitleaks' semantics so that a team's
//! custom gitleaks rules are reused unchanged.
//!
//! - `[[rules]]`: `id`, `regex` (Go syntax), `keywords`, `entropy`,
//!   `secretGroup`, `path`; `[rules.allowlist]` or `[[rules.allowlists]]`
//!   with `condition`, `regexTarget`, `regexes`, `stopwords`, `paths`,
//!   `commits`; `description` and `tags` are accepted and ignored.
//! - `[allowlist]` or `[[allowlists]]` (with `targetRules`): allowlists of
//!   every rule, or of the rules named, built-in rules included.
//! - `title`, `description`, `minVersion`: accepted and ignored.
//! - `[extend]`: `useDefault = true` adds our built-in rules (gitleaks adds
//!   its own), `disabledRules` leaves out rules of what is extended,
//!   `path` reads another gitleaks file (relative to this one; gitleaks
//!   reads it relative to the working directory), `url` is refused (no
//!   network). As in gitleaks, `useDefault` and `path` exclude each other,
//!   an extended file may extend one more, and deeper `[extend]`s are
//!   ignored (with a warning); a file that extends itself is refused.
//!   A rule whose id is a rule of the extended file amends it as gitleaks
//!   does: `regex`, `path`, `entropy`, `secretGroup` replace, `keywords`
//!   and allowlists add. For a built-in rule, see
//!   [`RuleSet::with_gitleaks_rules`].
//! - `commits`: no git history is scanned, so a commit never matches (as
//!   in `gitleaks dir`); an allowlist that then can never apply is
//!   reported as a warning.
//! - `skipReport` and `[[rules.required]]` (composite rules) are refused.

use std::path::{Path, PathBuf};

use toml::Spanned;

use secret_chain::Error;
use secret_chain::detect::{AllowCondition, AllowlistSpec, GitleaksRule, RegexTarget, RuleSet};

use super::config::{
    ConfigFormat, RawAllowlist, RawFile, RawRule, count, decide, line_of, no_keywords_warning,
    number, parse_raw, read_rules_text,
};

/// How many files deep `[extend] path` is followed (gitleaks': the file
/// and two more levels).
const MAX_EXTEND_DEPTH: usize = 2;

/// Something read from a file, and where (`rules file 'x' line N`).
struct Located<T> {
    item: T,
    at: String,
}

/// A gitleaks file with what it extends folded in.
#[derive(Default)]
struct Loaded {
    /// Our built-in rules run too (`useDefault`).
    use_builtin: bool,
    /// Built-in rules left out (`disabledRules`).
    disabled: Vec<String>,
    rules: Vec<Located<GitleaksRule>>,
    allowlists: Vec<Located<AllowlistSpec>>,
}

/// The rules of the gitleaks file at `path` (text and keys read already)
/// and the warnings to show.
pub(super) fn load(path: &Path, text: &str, raw: RawFile) -> Result<(RuleSet, Vec<String>), Error> {
    let mut warnings = Vec::new();
    let mut chain = vec![canonical(path)];
    let loaded = resolve(path, text, raw, 0, &mut chain, &mut warnings)?;
    let name = path.display().to_string();
    let base = if loaded.use_builtin {
        let builtin = RuleSet::builtin();
        if loaded.disabled.is_empty() {
            builtin
        } else {
            let keep: Vec<&str> = builtin
                .rule_ids()
                .into_iter()
                .filter(|id| !loaded.disabled.iter().any(|d| d == id))
                .collect();
            builtin.subset(&keep)
        }
    } else {
        RuleSet::empty()
    };
    for r in &loaded.rules {
        if r.item.regex.is_some() && r.item.keywords.is_empty() {
            // `at` is "rules file 'x' line N".
            let (file, line) = split_at(&r.at);
            warnings.push(no_keywords_warning(file, line, &r.item.id));
        }
    }
    let rules = loaded.rules.iter().map(|r| r.item.clone()).collect();
    let allowlists = loaded.allowlists.iter().map(|a| a.item.clone()).collect();
    let set = base
        .with_gitleaks_rules(rules, allowlists)
        .map_err(|e| locate(&e, &loaded, &name))?;
    Ok((set, warnings))
}

/// `rules file 'x' line N` as (`x`, N).
fn split_at(at: &str) -> (&str, usize) {
    let rest = at.strip_prefix("rules file '").unwrap_or(at);
    match rest.rsplit_once("' line ") {
        Some((file, line)) => (file, line.parse().unwrap_or(0)),
        None => (rest, 0),
    }
}

/// A library error about the merged rules, given the file and line of the
/// rule or allowlist it names.
fn locate(e: &Error, loaded: &Loaded, name: &str) -> Error {
    let msg = e.message();
    if let Some(rest) = msg.strip_prefix("rule '")
        && let Some((id, _)) = rest.split_once('\'')
        && let Some(r) = loaded.rules.iter().find(|r| r.item.id == id)
    {
        return Error::config(format!("{}: {msg}", r.at));
    }
    if let Some(rest) = msg.strip_prefix("allowlists[")
        && let Some((n, what)) = rest.split_once("]: ")
        && let Some(a) = n
            .parse::<usize>()
            .ok()
            .and_then(|n| loaded.allowlists.get(n))
    {
        return Error::config(format!("{}: allowlist: {what}", a.at));
    }
    Error::config(format!("rules file '{name}': {msg}"))
}

fn canonical(path: &Path) -> PathBuf {
    std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf())
}

/// Reads one file at `depth` of the extend chain and what it extends.
fn resolve(
    path: &Path,
    text: &str,
    raw: RawFile,
    depth: usize,
    chain: &mut Vec<PathBuf>,
    warnings: &mut Vec<String>,
) -> Result<Loaded, Error> {
    let name = path.display().to_string();
    let at = |off: usize| format!("rules file '{name}' line {}", line_of(text, off));
    let fail = |off: usize, what: String| Error::config(format!("{}: {what}", at(off)));

    // The file's own rules and allowlists.
    let mut own: Vec<Located<GitleaksRule>> = Vec::new();
    for r in raw.rules {
        let off = r.span().start;
        let rule = rule(r.into_inner(), text, &name, off, warnings)?;
        if own.iter().any(|o| o.item.id == rule.id) {
            return Err(fail(off, format!("rule '{}': duplicate rule id", rule.id)));
        }
        own.push(Located {
            item: rule,
            at: at(off),
        });
    }
    let mut own_allow: Vec<Located<AllowlistSpec>> = Vec::new();
    let tables: Vec<Spanned<RawAllowlist>> = match (raw.allowlist, raw.allowlists) {
        (Some(one), None) => vec![one],
        (None, Some(many)) => many.into_inner(),
        (None, None) => Vec::new(),
        (Some(one), Some(_)) => {
            return Err(fail(
                one.span().start,
                "[allowlist] cannot be used alongside [[allowlists]] (gitleaks refuses it too)"
                    .into(),
            ));
        }
    };
    for (i, a) in tables.into_iter().enumerate() {
        let off = a.span().start;
        let spec = allowlist(a.into_inner(), true, text, &name, off, warnings)
            .map_err(|e| fail(off, format!("allowlists[{i}]: {}", e.message())))?;
        own_allow.push(Located {
            item: spec,
            at: at(off),
        });
    }

    // What it extends.
    let mut base = Loaded::default();
    if let Some(ext) = raw.extend {
        let ext_off = ext.span().start;
        let ext = ext.into_inner();
        if let Some(url) = &ext.url {
            return Err(fail(
                url.span().start,
                "`extend.url` is not supported: no rules are fetched over the network (download the file and name it in `extend.path`)".into(),
            ));
        }
        let use_default = ext.use_default.as_ref().is_some_and(|u| *u.get_ref());
        if use_default && let Some(p) = &ext.path {
            return Err(fail(
                p.span().start,
                "`extend.path` and `extend.useDefault` cannot both be set (gitleaks refuses it too)".into(),
            ));
        }
        if depth >= MAX_EXTEND_DEPTH {
            if use_default || ext.path.is_some() || ext.disabled_rules.is_some() {
                warnings.push(format!(
                    "{}: [extend] ignored: gitleaks follows extend.path at most {MAX_EXTEND_DEPTH} files deep",
                    at(ext_off)
                ));
            }
        } else {
            if use_default {
                base.use_builtin = true;
            } else if let Some(p) = &ext.path {
                let target = path.parent().unwrap_or(Path::new("")).join(p.get_ref());
                let canon = canonical(&target);
                if chain.contains(&canon) {
                    return Err(fail(
                        p.span().start,
                        format!(
                            "extend.path leads back to '{}', which this chain of files already reads",
                            target.display()
                        ),
                    ));
                }
                let tname = target.display().to_string();
                let ttext = read_rules_text(&target, &tname)?;
                let traw = parse_raw(&ttext, &tname)?;
                decide(&traw, &ttext, &tname, ConfigFormat::Gitleaks)?;
                chain.push(canon);
                base = resolve(&target, &ttext, traw, depth + 1, chain, warnings)?;
                chain.pop();
            }
            if let Some(d) = &ext.disabled_rules {
                let builtin = base.use_builtin.then(RuleSet::builtin);
                let builtin_ids = builtin.as_ref().map(RuleSet::rule_ids).unwrap_or_default();
                for id in d.get_ref() {
                    let before = base.rules.len();
                    base.rules.retain(|r| &r.item.id != id);
                    if base.rules.len() < before {
                        continue;
                    }
                    if builtin_ids.contains(&id.as_str()) {
                        base.disabled.push(id.clone());
                    } else {
                        warnings.push(format!(
                            "{}: extend.disabledRules names no rule '{id}' of what the file extends",
                            at(d.span().start)
                        ));
                    }
                }
            }
        }
    }

    // Merge the file's rules over the extended ones, as gitleaks does.
    for r in own {
        match base.rules.iter_mut().find(|b| b.item.id == r.item.id) {
            Some(b) => {
                let (b, o) = (&mut b.item, r.item);
                if o.regex.is_some() {
                    b.regex = o.regex;
                }
                if o.path.is_some() {
                    b.path = o.path;
                }
                if o.entropy.is_some_and(|e| e != 0.0) {
                    b.entropy = o.entropy;
                }
                if o.secret_group.is_some_and(|g| g != 0) {
                    b.secret_group = o.secret_group;
                }
                b.keywords.extend(o.keywords);
                b.allowlists.extend(o.allowlists);
            }
            None => base.rules.push(r),
        }
    }
    own_allow.append(&mut base.allowlists);
    base.allowlists = own_allow;
    Ok(base)
}

/// One `[[rules]]` table (at offset `off` of `text`), checked.
fn rule(
    r: RawRule,
    text: &str,
    name: &str,
    off: usize,
    warnings: &mut Vec<String>,
) -> Result<GitleaksRule, Error> {
    let line = |o: usize| line_of(text, o);
    let fail = |o: usize, what: String| {
        Error::config(format!("rules file '{name}' line {}: {what}", line(o)))
    };
    let Some(id) = r.id else {
        return Err(fail(off, "a rule has no `id`".into()));
    };
    let id_off = id.span().start;
    let id = id.into_inner();
    if let Some(s) = &r.skip_report {
        return Err(fail(
            s.span().start,
            format!("rule '{id}': `skipReport` is not supported (gitleaks composite rules)"),
        ));
    }
    if let Some(s) = &r.required {
        return Err(fail(
            s.span().start,
            format!(
                "rule '{id}': `[[rules.required]]` is not supported (gitleaks composite rules)"
            ),
        ));
    }
    let entropy = match &r.entropy {
        Some(v) => Some(number(v).ok_or_else(|| {
            fail(
                v.span().start,
                format!("rule '{id}': entropy must be a number"),
            )
        })?),
        None => None,
    };
    let secret_group = match &r.secret_group_gitleaks {
        Some(v) => Some(count(v).ok_or_else(|| {
            fail(
                v.span().start,
                format!("rule '{id}': secretGroup must be a non-negative integer"),
            )
        })?),
        None => None,
    };
    let tables: Vec<Spanned<RawAllowlist>> = match (r.allowlist, r.allowlists) {
        (Some(one), None) => vec![one],
        (None, Some(many)) => many.into_inner(),
        (None, None) => Vec::new(),
        (Some(one), Some(_)) => {
            return Err(fail(
                one.span().start,
                format!(
                    "rule '{id}': [rules.allowlist] cannot be used alongside [[rules.allowlists]] (gitleaks refuses it too)"
                ),
            ));
        }
    };
    let mut allowlists = Vec::with_capacity(tables.len());
    for (i, a) in tables.into_iter().enumerate() {
        let a_off = a.span().start;
        let spec = allowlist(a.into_inner(), false, text, name, a_off, warnings).map_err(|e| {
            fail(
                a_off,
                format!("rule '{id}' allowlists[{i}]: {}", e.message()),
            )
        })?;
        allowlists.push(spec);
    }
    let regex_off = r.regex.as_ref().map_or(off, |x| x.span().start);
    let path_off = r.path.as_ref().map_or(off, |x| x.span().start);
    let keywords_off = r.keywords.as_ref().map_or(off, |x| x.span().start);
    let group_off = r
        .secret_group_gitleaks
        .as_ref()
        .map_or(off, |x| x.span().start);
    let entropy_off = r.entropy.as_ref().map_or(off, |x| x.span().start);
    let rule = GitleaksRule {
        id,
        regex: r.regex.map(Spanned::into_inner),
        path: r.path.map(Spanned::into_inner),
        keywords: r.keywords.map(Spanned::into_inner).unwrap_or_default(),
        entropy,
        secret_group,
        allowlists: Vec::new(),
    };
    // The path on its own, then the rest, so that an error names the line
    // of its key.
    GitleaksRule {
        id: rule.id.clone(),
        path: rule.path.clone(),
        ..GitleaksRule::default()
    }
    .check()
    .map_err(|e| fail(path_off, e.message().to_owned()))?;
    rule.check().map_err(|e| {
        let m = e.message();
        let o = if m.contains("rule id") {
            id_off
        } else if m.contains("secretGroup") {
            group_off
        } else if m.contains("entropy") {
            entropy_off
        } else if m.contains("keywords") {
            keywords_off
        } else {
            regex_off
        };
        fail(o, m.to_owned())
    })?;
    Ok(GitleaksRule { allowlists, ..rule })
}

/// One allowlist table (at offset `off`), checked; `global`: a file-wide
/// one (which may have `targetRules`).
fn allowlist(
    a: RawAllowlist,
    global: bool,
    text: &str,
    name: &str,
    off: usize,
    warnings: &mut Vec<String>,
) -> Result<AllowlistSpec, Error> {
    let condition = match a
        .condition
        .as_ref()
        .map(|c| c.get_ref().to_ascii_uppercase())
    {
        None => AllowCondition::Or,
        Some(c) => match c.as_str() {
            "" | "OR" | "||" => AllowCondition::Or,
            "AND" | "&&" => AllowCondition::And,
            _ => {
                return Err(Error::config(
                    "unknown `condition` (expected \"AND\" or \"OR\")",
                ));
            }
        },
    };
    let regex_target = match a.regex_target.as_ref().map(|t| t.get_ref().as_str()) {
        None | Some("" | "secret") => RegexTarget::Secret,
        Some("match") => RegexTarget::Match,
        Some("line") => RegexTarget::Line,
        Some(_) => {
            return Err(Error::config(
                "unknown `regexTarget` (expected \"secret\", \"match\" or \"line\")",
            ));
        }
    };
    if !global && a.target_rules.is_some() {
        return Err(Error::config(
            "`targetRules` belongs to a file-wide [[allowlists]], not to a rule's",
        ));
    }
    let list = |v: Option<Spanned<Vec<String>>>| v.map(Spanned::into_inner).unwrap_or_default();
    let spec = AllowlistSpec {
        condition,
        regex_target,
        regexes: list(a.regexes),
        stopwords: list(a.stopwords),
        paths: list(a.paths),
        commits: list(a.commits),
        target_rules: list(a.target_rules),
    };
    spec.check()?;
    if !spec.commits.is_empty() {
        let only_commits =
            spec.regexes.is_empty() && spec.stopwords.is_empty() && spec.paths.is_empty();
        if condition == AllowCondition::And || only_commits {
            warnings.push(format!(
                "rules file '{name}' line {}: this allowlist never applies here: its `commits` never match (no git history is scanned, as in `gitleaks dir`)",
                line_of(text, off)
            ));
        }
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use secret_chain::detect::Finding;

    fn dir() -> tempfile::TempDir {
        tempfile::tempdir().unwrap()
    }

    fn load_text(dir: &Path, files: &[(&str, &str)]) -> Result<(RuleSet, Vec<String>), Error> {
        for (name, text) in files {
            std::fs::write(dir.join(name), text).unwrap();
        }
        super::super::config::load_rule_set(&dir.join(files[0].0), ConfigFormat::Auto)
    }

    fn found(set: &RuleSet, path: Option<&str>, text: &str) -> Vec<(String, String)> {
        let mut out: Vec<Finding> = Vec::new();
        set.for_path(path).find(text, &mut out);
        out.iter()
            .map(|f| (f.rule.to_string(), text[f.start..f.end].to_string()))
            .collect()
    }

    const GH: &str = "ghp_b5h9M344OTFAQdfeb4g0MRcoIztgBqkFLglB"; // secret-chain:allow

    #[test]
    fn a_gitleaks_file_alone_has_only_its_rules() {
        let d = dir();
        let (set, warnings) = load_text(
            d.path(),
            &[(
                "g.toml",
                "title = 'team rules'\n\n[[rules]]\nid = 'acme'\ndescription = 'Acme key'\nregex = '''acme_(\\w{12})'''\ntags = ['key']\nkeywords = ['acme_']\n",
            )],
        )
        .unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        let line = format!("k={GH} acme_Zk4q7Wm2Pn9R");
        assert_eq!(
            found(&set, None, &line),
            [("acme".to_string(), "Zk4q7Wm2Pn9R".to_string())]
        );
        assert_eq!(set.rule_ids(), ["acme"]);
    }

    #[test]
    fn use_default_adds_the_built_in_rules_and_disabled_rules_drops_some() {
        let d = dir();
        let (set, warnings) = load_text(
            d.path(),
            &[(
                "g.toml",
                "[extend]\nuseDefault = true\ndisabledRules = ['github-pat', 'no-such-rule']\n\n[[rules]]\nid = 'acme'\nregex = 'acme_[a-z0-9]{12}'\nkeywords = ['acme_']\n",
            )],
        )
        .unwrap();
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("'no-such-rule'") && warnings[0].contains("line 3"),
            "{warnings:?}"
        );
        assert!(!set.rule_ids().contains(&"github-pat"));
        assert!(set.rule_ids().contains(&"aws-access-key-id"));
        assert!(found(&set, None, &format!("t {GH}")).is_empty());
        assert_eq!(found(&set, None, "password=hunter22xyz").len(), 1);
    }

    #[test]
    fn extend_path_merges_as_gitleaks_does_and_cycles_are_refused() {
        let d = dir();
        let base = "[extend]\nuseDefault = true\n\n[[rules]]\nid = 'acme'\nregex = 'acme_[a-z0-9]{12}'\nkeywords = ['acme_']\n\n[[rules]]\nid = 'old'\nregex = 'old_[a-z0-9]{12}'\nkeywords = ['old_']\n";
        let top = "[extend]\npath = 'base.toml'\ndisabledRules = ['old']\n\n[[rules]]\nid = 'acme'\n[[rules.allowlists]]\nstopwords = ['test']\n";
        let (set, warnings) =
            load_text(d.path(), &[("top.toml", top), ("base.toml", base)]).unwrap();
        assert!(warnings.is_empty(), "{warnings:?}");
        assert!(
            set.rule_ids().contains(&"github-pat"),
            "useDefault of the base"
        );
        assert!(!set.rule_ids().contains(&"old"));
        assert_eq!(
            found(&set, None, "acme_test12345678 acme_k3j4h5g6f7d8"),
            [("acme".to_string(), "acme_k3j4h5g6f7d8".to_string())]
        );
        let e = load_text(
            d.path(),
            &[
                ("a.toml", "[extend]\npath = 'b.toml'\n"),
                ("b.toml", "[extend]\npath = 'a.toml'\n"),
            ],
        )
        .unwrap_err()
        .to_string();
        assert!(
            e.contains("b.toml") && e.contains("line 2") && e.contains("leads back"),
            "{e}"
        );
        let e = load_text(
            d.path(),
            &[("u.toml", "[extend]\nurl = 'https://example.com/g.toml'\n")],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 2") && e.contains("extend.url"), "{e}");
        assert!(!e.contains("example.com"), "{e}");
        let e = load_text(
            d.path(),
            &[(
                "both.toml",
                "[extend]\nuseDefault = true\npath = 'base.toml'\n",
            )],
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn extends_deeper_than_gitleaks_follows_are_ignored_with_a_warning() {
        let d = dir();
        let (set, warnings) = load_text(
            d.path(),
            &[
                ("one.toml", "[extend]\npath = 'two.toml'\n"),
                ("two.toml", "[extend]\npath = 'three.toml'\n"),
                ("three.toml", "[extend]\nuseDefault = true\n[[rules]]\nid = 'deep'\nregex = 'deep_[a-z]{9}'\nkeywords = ['deep_']\n"),
            ],
        )
        .unwrap();
        assert_eq!(set.rule_ids(), ["deep"]);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].contains("three.toml") && warnings[0].contains("ignored"),
            "{warnings:?}"
        );
    }

    #[test]
    fn errors_name_the_file_the_line_the_rule_and_the_key() {
        let d = dir();
        for (text, want) in [
            (
                "[[rules]]\nid = 'r1'\n\nregex = '(unclosed'\n",
                vec!["line 4", "'r1'", "regex"],
            ),
            (
                "[[rules]]\nid = 'r2'\nregex = 'a(b)'\nsecretGroup = 2\n",
                vec!["line 4", "'r2'", "secretGroup"],
            ),
            (
                "[[rules]]\nid = 'r3'\nregex = 'abc'\nentropy = 9\n",
                vec!["line 4", "'r3'", "entropy"],
            ),
            (
                "[[rules]]\nid = 'r4'\nregex = 'abc'\npath = '('\n",
                vec!["line 4", "'r4'", "path"],
            ),
            (
                "[[rules]]\nid = 'r5'\n",
                vec!["line 1", "'r5'", "both regex and path"],
            ),
            (
                "[[rules]]\nid = 'r6'\nregex = 'abc'\nskipReport = true\n",
                vec!["line 4", "'r6'", "skipReport"],
            ),
            (
                "[[rules]]\nid = 'r7'\nregex = 'abc'\n[[rules.allowlists]]\nregexes = ['ok', '[z-a]']\n",
                vec!["line 4", "'r7'", "regexes[1]"],
            ),
            (
                "[[rules]]\nid = 'r8'\nregex = 'abc'\n[[rules.allowlists]]\ncondition = 'XOR'\nstopwords = ['x']\n",
                vec!["line 4", "'r8'", "condition"],
            ),
            (
                "[[rules]]\nid = 'r9'\nregex = 'abc'\n[[rules.allowlists]]\ndescription = 'empty'\n",
                vec!["line 4", "'r9'", "at least one"],
            ),
            (
                "title = 't'\n[[allowlists]]\ntargetRules = ['nope']\nstopwords = ['x']\n",
                vec!["line 2", "targetRules", "'nope'"],
            ),
            (
                "[[rules]]\nid = 'r10'\nregex = 'a\\Cb'\n",
                vec!["line 3", "'r10'", "\\C"],
            ),
        ] {
            std::fs::write(d.path().join("e.toml"), text).unwrap();
            let e = super::super::config::load_rule_set(
                &d.path().join("e.toml"),
                ConfigFormat::Gitleaks,
            )
            .unwrap_err()
            .to_string();
            assert!(e.contains("e.toml"), "{e}");
            for w in want {
                assert!(e.contains(w), "{text}: {w} not in: {e}");
            }
        }
    }

    #[test]
    fn an_allowlist_that_only_a_commit_could_satisfy_is_a_warning() {
        let d = dir();
        let (_, warnings) = load_text(
            d.path(),
            &[(
                "c.toml",
                "[[rules]]\nid = 'acme'\nregex = 'acme_[a-z]{9}'\nkeywords = ['acme_']\n[[rules.allowlists]]\ncommits = ['0a1b2c3d']\n\n[[allowlists]]\ncondition = 'AND'\ncommits = ['0a1b2c3d']\nstopwords = ['x']\n\n[[allowlists]]\ncommits = ['0a1b2c3d']\nstopwords = ['x']\n",
            )],
        )
        .unwrap();
        assert_eq!(warnings.len(), 2, "{warnings:?}");
        assert!(
            warnings[0].contains("line 5") && warnings[1].contains("line 8"),
            "{warnings:?}"
        );
    }

    #[test]
    fn a_rule_without_keywords_is_a_warning_with_its_line() {
        let d = dir();
        let (_, warnings) = load_text(
            d.path(),
            &[(
                "k.toml",
                "title = 't'\n[[rules]]\nid = 'slow'\nregex = 'tok_[a-z]{9}'\n",
            )],
        )
        .unwrap();
        assert_eq!(warnings.len(), 1);
        assert!(
            warnings[0].contains("k.toml' line 2") && warnings[0].contains("'slow'"),
            "{warnings:?}"
        );
    }
}
