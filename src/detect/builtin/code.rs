//! Built-in rules: Code hosting and package registries: GitHub, GitLab, npm, PyPI.

use super::{Def, tok};

pub(super) const DEFS: &[Def] = &[
    // GitHub
    tok("github-pat", &["ghp_"], r"ghp_[0-9A-Za-z]{36,251}\b"),
    tok("github-oauth", &["gho_"], r"gho_[0-9A-Za-z]{36,251}\b"),
    tok(
        "github-app-token",
        &["ghu_", "ghs_"],
        r"gh[us]_[0-9A-Za-z]{36,251}\b",
    ),
    tok(
        "github-refresh-token",
        &["ghr_"],
        r"ghr_[0-9A-Za-z]{36,251}\b",
    ),
    tok(
        "github-fine-grained-pat",
        &["github_pat_"],
        r"github_pat_[0-9A-Za-z_]{40,255}\b",
    ),
    // GitLab
    tok(
        "gitlab-token",
        &[
            "glpat-", "glrt-", "gldt-", "glptt-", "glft-", "glsoat-", "glcbt-", "glimt-",
            "glagent-", "gloas-", "glrtr-", "glffct-",
        ],
        r"gl(?:pat|rt|dt|ptt|ft|soat|cbt|imt|agent|oas|rtr|ffct)-[0-9A-Za-z_\-]{20,255}(?:\.[0-9A-Za-z_\-]{2,64}){0,2}",
    ),
    Def {
        exact_case: true,
        ..tok(
            "gitlab-runner-registration-token",
            &["GR1348941"],
            r"GR1348941[0-9A-Za-z_\-]{20,64}",
        )
    },
    // npm, PyPI
    tok("npm-access-token", &["npm_"], r"npm_[A-Za-z0-9]{36}\b"),
    tok(
        "pypi-upload-token",
        &["pypi-ageicHlwaS5vcmc"],
        r"pypi-AgEIcHlwaS5vcmc[A-Za-z0-9_\-]{50,1000}",
    ),
];
