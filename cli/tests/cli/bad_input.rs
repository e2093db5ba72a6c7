//! Bad and hostile input on the binary: no crash, no silently changed
//! value, a clear error naming the setting, file or line.

use crate::get::{dir_with_env, run, text};

fn no_panic(out: &std::process::Output) {
    let err = text(&out.stderr);
    assert!(
        !err.contains("panicked") && !err.contains("overflow"),
        "{err}"
    );
}

#[test]
fn durations_too_large_for_the_clock_do_not_crash() {
    let dir = dir_with_env("");
    for (var, value) in [
        ("SECRETS_CACHE_TTL", "18446744073709551615"),
        ("SECRETS_NEGATIVE_TTL", "20000000000"),
        ("SECRETS_MAX_STALE", "18446744073709551615"),
        ("SECRETS_BREAKER_COOLDOWN", "18446744073709551615"),
    ] {
        let out = run(
            dir.path(),
            &["get", "a"],
            &[("A", "val-1234567"), (var, value)],
        );
        no_panic(&out);
        assert_eq!(out.status.code(), Some(0), "{var}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), "val-1234567\n");
        let out = run(dir.path(), &["get", "missing"], &[(var, value)]);
        no_panic(&out);
        assert_eq!(out.status.code(), Some(1), "{var}: {}", text(&out.stderr));
    }
}

#[test]
fn env_file_values_read_as_python_dotenv_reads_them() {
    let dir = dir_with_env(concat!(
        "\u{feff}DB_PASS=pa$$w0rd-x\n",
        "QUOTED=\"pa$w0rd-x\"\n",
        "LITERAL=$UNDEFINED\n",
        "API_CONFIG={\"key\":\"k-1\",\"region\":\"eu-west-1\"}\n",
        "BIG={\"n\":123456789012345678901234567890}\n",
    ));
    for (path, want) in [
        ("db/pass", "pa$$w0rd-x"),
        ("quoted", "pa$w0rd-x"),
        ("literal", "$UNDEFINED"),
        ("api/config#key", "k-1"),
        ("big#n", "123456789012345678901234567890"),
    ] {
        let out = run(dir.path(), &["get", path], &[]);
        assert_eq!(out.status.code(), Some(0), "{path}: {}", text(&out.stderr));
        assert_eq!(text(&out.stdout), format!("{want}\n"), "{path}");
    }
}

#[test]
fn a_bad_env_line_is_reported_at_its_own_line() {
    // The bad line's text also occurs earlier, inside a valid value.
    let dir = dir_with_env("A=B=\"x\"junk\nB=\"x\"junk\n");
    let out = run(dir.path(), &["get", "a"], &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("line 2"), "{err}");
    assert!(!err.contains("junk"), "{err}");
}

#[test]
fn a_bad_number_setting_says_what_is_expected_and_what_was_given() {
    let dir = dir_with_env("");
    for (var, value, want) in [
        (
            "SECRETS_MASK_MIN_LENGTH",
            "abc",
            "SECRETS_MASK_MIN_LENGTH must be a whole number of characters (at least 1), not 'abc'",
        ),
        (
            "SECRETS_MASK_RETENTION",
            "-1",
            "SECRETS_MASK_RETENTION must be a whole number of seconds, not '-1'",
        ),
    ] {
        let out = run(dir.path(), &["get", "a"], &[("A", "v"), (var, value)]);
        assert_eq!(out.status.code(), Some(2));
        assert!(text(&out.stderr).contains(want), "{}", text(&out.stderr));
    }
}

#[test]
fn control_characters_in_a_path_do_not_reach_the_terminal() {
    let dir = dir_with_env("");
    let out = run(dir.path(), &["get", "x\u{1b}[31mRED\nsecond line"], &[]);
    let err = text(&out.stderr);
    assert!(!err.contains('\u{1b}'), "{err:?}");
    assert_eq!(err.trim_end().lines().count(), 1, "{err:?}");
}

#[test]
fn an_env_file_without_end_is_refused_at_the_size_limit() {
    let dir = dir_with_env("");
    let out = run(
        dir.path(),
        &["get", "a"],
        &[("SECRETS_ENV_FILE", "/dev/zero")],
    );
    no_panic(&out);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("/dev/zero") && err.contains("4 MiB"), "{err}");
}
